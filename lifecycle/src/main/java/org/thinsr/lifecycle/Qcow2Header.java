package org.thinsr.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.thinsr.allocmap.CorruptInputException;

/**
 * The two fields of a qcow2 header the file backend asks for most: the virtual size and the backing
 * file name as stored (what {@code qemu-img info} prints as {@code virtual-size} and {@code
 * backing-filename}), read from the first cluster instead of running {@code qemu-img} once per file
 * and question. qemu's {@code docs/interop/qcow2.txt}: magic {@code QFI\xfb}, version 2 or 3,
 * {@code backing_file_offset} (u64 BE at 8), {@code backing_file_size} (u32 BE at 16, at most 1023),
 * {@code cluster_bits} (u32 at 20, 9 to 21), {@code size} (u64 at 24); the name lies inside the
 * first cluster. Also whether its data clusters hold the guest's bytes as they are, at the host
 * offsets {@code qemu-img map} prints: {@code crypt_method} (u32 at 32) 0, and for version 3 no
 * external data file ({@code incompatible_features} bit 2, u64 at 72). Everything is checked before
 * use.
 *
 * @param virtualSize the disk's size in bytes
 * @param backingFile the backing file name as stored, or empty
 * @param plainClusters whether data clusters may be read from this file at their host offsets
 */
record Qcow2Header(long virtualSize, String backingFile, boolean plainClusters) {
    static final int MAGIC = 0x514649fb;
    static final int MAX_BACKING_NAME = 1023;
    private static final int HEADER_BYTES = 32;
    private static final int V2_HEADER_BYTES = 72;
    private static final int V3_HEADER_BYTES = 80;
    private static final long EXTERNAL_DATA_FILE = 1L << 2;

    /** Reads the header of {@code file}; a file that is not qcow2 v2/v3 fails with the field named. */
    static Qcow2Header read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            String where = file.toString();
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
            readFully(channel, header, 0, where);
            ByteBuffer rest = ByteBuffer.allocate(V3_HEADER_BYTES - HEADER_BYTES);
            int magic = header.getInt(0);
            if (magic != MAGIC) {
                throw CorruptInputException.of(where, "qcow2 magic", hex(magic), hex(MAGIC));
            }
            int version = header.getInt(4);
            if (version != 2 && version != 3) {
                throw CorruptInputException.of(where, "qcow2 version", version, "2 or 3");
            }
            long nameOffset = header.getLong(8);
            int nameLength = header.getInt(16);
            int clusterBits = header.getInt(20);
            long size = header.getLong(24);
            if (clusterBits < 9 || clusterBits > 21) {
                throw CorruptInputException.of(where, "qcow2 cluster_bits", clusterBits, "9 to 21");
            }
            if (size < 0) {
                throw CorruptInputException.of(where, "qcow2 size", Long.toUnsignedString(size), "below 2^63");
            }
            rest.limit((version == 2 ? V2_HEADER_BYTES : V3_HEADER_BYTES) - HEADER_BYTES);
            readFully(channel, rest, HEADER_BYTES, where);
            boolean plain = rest.getInt(0) == 0
                    && (version == 2 || (rest.getLong(V2_HEADER_BYTES - HEADER_BYTES) & EXTERNAL_DATA_FILE) == 0);
            if (nameOffset == 0) {
                return new Qcow2Header(size, "", plain);
            }
            if (nameLength < 0 || nameLength > MAX_BACKING_NAME) {
                throw CorruptInputException.of(
                        where, "qcow2 backing_file_size", Integer.toUnsignedString(nameLength), "0 to 1023");
            }
            long cluster = 1L << clusterBits;
            if (nameOffset < HEADER_BYTES || nameOffset > cluster - nameLength) {
                throw CorruptInputException.of(
                        where,
                        "qcow2 backing_file_offset",
                        Long.toUnsignedString(nameOffset),
                        "inside the first cluster (" + HEADER_BYTES + " to " + (cluster - nameLength) + ")");
            }
            ByteBuffer name = ByteBuffer.allocate(nameLength);
            readFully(channel, name, nameOffset, where);
            return new Qcow2Header(size, new String(name.array(), StandardCharsets.UTF_8), plain);
        }
    }

    /** L1 tables larger than this are not read by {@link #unallocated}: 4 Mi entries, 32 MiB. */
    private static final int MAX_L1_ENTRIES = 1 << 22;

    /**
     * Whether {@code file} is a qcow2 image that holds no cluster of its own: no internal snapshot
     * ({@code nb_snapshots}, u32 at 60) and every entry of its L1 table ({@code l1_size}, u32 at 36;
     * {@code l1_table_offset}, u64 at 40) zero, so no L2 table and no data or zero cluster. Such an
     * image reads exactly as its backing file. False for anything else, a damaged file included.
     */
    static boolean unallocated(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(64);
            if (channel.read(header, 0) < 64 || header.getInt(0) != MAGIC) {
                return false;
            }
            int l1Size = header.getInt(36);
            long l1Offset = header.getLong(40);
            if (header.getInt(60) != 0 || l1Size < 0 || l1Size > MAX_L1_ENTRIES) {
                return false;
            }
            if (l1Size == 0) {
                return true;
            }
            if (l1Offset <= 0 || l1Offset > channel.size() - 8L * l1Size) {
                return false;
            }
            ByteBuffer l1 = ByteBuffer.allocate(8 * l1Size);
            readFully(channel, l1, l1Offset, file.toString());
            for (int i = 0; i < l1Size; i++) {
                if (l1.getLong(8 * i) != 0) {
                    return false;
                }
            }
            return true;
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position, String where)
            throws IOException {
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, position + buffer.position());
            if (read < 0) {
                throw CorruptInputException.of(
                        where,
                        "qcow2 header",
                        "end of file at " + (position + buffer.position()),
                        (position + buffer.limit()) + " bytes");
            }
        }
    }

    private static String hex(int value) {
        return String.format("0x%08x", value);
    }
}
