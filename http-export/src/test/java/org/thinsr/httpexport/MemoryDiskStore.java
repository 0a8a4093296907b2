package org.thinsr.httpexport;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * A hand-written fake SR: disks are byte arrays; the allocation map is the set of 4 KiB blocks that
 * hold a non-zero byte. Imports stage into a copy that replaces the disk only on commit.
 */
final class MemoryDiskStore implements DiskStore {
    static final int BLOCK = 4096;

    private final Map<String, byte[]> disks = new LinkedHashMap<>();
    private final Map<String, Boolean> readOnly = new LinkedHashMap<>();
    volatile int commits;

    synchronized void put(String id, byte[] content) {
        disks.put(id, content);
        readOnly.put(id, false);
    }

    synchronized void putTemplate(String id, byte[] content) {
        disks.put(id, content);
        readOnly.put(id, true);
    }

    synchronized byte[] content(String id) {
        return disks.get(id).clone();
    }

    @Override
    public synchronized List<DiskInfo> list() {
        List<DiskInfo> list = new ArrayList<>();
        for (String id : disks.keySet()) {
            list.add(find(id));
        }
        return list;
    }

    @Override
    public synchronized DiskInfo find(String vdi) {
        byte[] content = disks.get(vdi);
        if (content == null) {
            throw new ThinsrException(ErrorCode.VDI_NOT_FOUND, "no VDI " + vdi, vdi);
        }
        return new DiskInfo(vdi, vdi, content.length, readOnly.get(vdi));
    }

    @Override
    public synchronized DiskInfo create(String nameLabel, long virtualSize) {
        if (disks.containsKey(nameLabel)) {
            throw new ThinsrException(ErrorCode.VDI_EXISTS, "VDI " + nameLabel + " exists");
        }
        put(nameLabel, new byte[Math.toIntExact(virtualSize)]);
        return find(nameLabel);
    }

    @Override
    public synchronized boolean destroy(String vdi) {
        readOnly.remove(vdi);
        return disks.remove(vdi) != null;
    }

    @Override
    public synchronized ExportView openForExport(String vdi, Optional<String> base) {
        DiskInfo disk = find(vdi);
        byte[] content = content(vdi);
        Optional<ExtentSet> changed = base.map(b -> difference(content(find(b).id()), content));
        return new ExportView() {
            @Override
            public DiskInfo disk() {
                return disk;
            }

            @Override
            public BlockSource source() {
                return new ArraySource(content);
            }

            @Override
            public AllocationMap map() {
                return AllocationMap.ofData(content.length, nonZeroBlocks(content));
            }

            @Override
            public Optional<ExtentSet> changed() {
                return changed;
            }

            @Override
            public String etag() {
                return Integer.toHexString(Arrays.hashCode(content));
            }

            @Override
            public void close() {}
        };
    }

    @Override
    public synchronized ImportTarget beginImport(String vdi, boolean overCurrentContent) {
        DiskInfo disk = find(vdi);
        byte[] staging = overCurrentContent ? disks.get(vdi).clone() : new byte[Math.toIntExact(disk.virtualSize())];
        return new ImportTarget() {
            @Override
            public BlockSink sink() {
                return new ArraySink(staging);
            }

            @Override
            public void commit() {
                synchronized (MemoryDiskStore.this) {
                    disks.put(vdi, staging);
                    commits++;
                }
            }

            @Override
            public void close() {}
        };
    }

    @Override
    public synchronized WriteHandle openForWrite(String vdi) {
        find(vdi);
        byte[] live = disks.get(vdi);
        return new WriteHandle() {
            @Override
            public BlockSink sink() {
                return new ArraySink(live);
            }

            @Override
            public void close() {}
        };
    }

    static ExtentSet nonZeroBlocks(byte[] content) {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int start = 0; start < content.length; start += BLOCK) {
            int end = Math.min(content.length, start + BLOCK);
            for (int i = start; i < end; i++) {
                if (content[i] != 0) {
                    builder.add(start, end);
                    break;
                }
            }
        }
        return builder.build();
    }

    static ExtentSet difference(byte[] base, byte[] content) {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int start = 0; start < content.length; start += BLOCK) {
            int end = Math.min(content.length, start + BLOCK);
            if (!Arrays.equals(base, start, Math.min(end, base.length), content, start, end)) {
                builder.add(start, end);
            }
        }
        return builder.build();
    }

    static final class ArraySource implements BlockSource {
        private final byte[] content;

        ArraySource(byte[] content) {
            this.content = content;
        }

        @Override
        public long size() {
            return content.length;
        }

        @Override
        public void readFully(long offset, ByteBuffer buffer) throws IOException {
            if (offset + buffer.remaining() > content.length) {
                throw new EOFException("read past the end at " + offset);
            }
            buffer.put(content, (int) offset, buffer.remaining());
        }

        @Override
        public void close() {}
    }

    static final class ArraySink implements BlockSink {
        private final byte[] content;

        ArraySink(byte[] content) {
            this.content = content;
        }

        @Override
        public long size() {
            return content.length;
        }

        @Override
        public void write(long offset, ByteBuffer buffer) throws IOException {
            if (offset + buffer.remaining() > content.length) {
                throw new IOException("write past the end at " + offset);
            }
            buffer.get(content, (int) offset, buffer.remaining());
        }

        @Override
        public void writeZeroes(long offset, long length) {
            Arrays.fill(content, (int) offset, (int) (offset + length), (byte) 0);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
