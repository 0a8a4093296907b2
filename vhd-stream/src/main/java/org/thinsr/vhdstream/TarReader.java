package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.BlockSink;

/**
 * Reads an XVA tar disk stream (the format {@link TarWriter} writes and xapi's {@code
 * recv_all_vdi} / vhd-tool's {@code serve_tar_to_raw} read) into a {@link BlockSink}, forward
 * only, as a state machine over {@code HEADER -> DATA -> CHECKSUM_HEADER -> CHECKSUM -> HEADER ...
 * -> END_OF_ARCHIVE}.
 *
 * <p>Offsets are cumulative, as xapi computes them: the first chunk's length is the chunk size;
 * a gap of k in the counter means k chunks of that size that read as zero; a chunk's bytes follow
 * at the running offset (so zero-length keep-alive chunks advance the counter but not the offset).
 * Every chunk's companion {@code .xxhash} / {@code .checksum} is verified before the chunk is
 * written. What gaps and all-zero chunks become depends on the {@link Target}.
 *
 * <p>Everything is bounded: chunk lengths by {@code maxChunkSize} (one buffer of that size),
 * names by the 256 bytes of a ustar header, the disk by the sink size, zero padding after the end
 * of the archive by 1 MiB. Damage throws {@link CorruptImageException} naming the stream offset,
 * the field, the actual and the expected value; the sink is then incomplete and must not be used.
 *
 * <p>Not thread-safe; one reader per stream.
 */
public final class TarReader {
    /** Default bound on one chunk: 64 MiB (xapi writes 1 MiB). */
    public static final int DEFAULT_MAX_CHUNK_SIZE = 64 << 20;

    static final int MAX_TRAILING_ZEROS = 1 << 20;

    private final String prefix;
    private final boolean verifyChecksums;
    private final Target target;
    private final int maxChunkSize;
    private LongConsumer progress = bytes -> {};

    /** What the sink holds before the import, which decides what gaps and zero chunks become. */
    public enum Target {
        /** Reads as zeros everywhere (a new sparse file): gaps and all-zero chunks are not written. */
        ZEROED,
        /** Holds anything: gaps and all-zero chunks become {@link BlockSink#writeZeroes}. */
        DIRTY,
        /**
         * Holds the base a delta tar was made against: gaps mean "unchanged" and are not written;
         * all-zero chunks changed to zeros and become {@link BlockSink#writeZeroes}.
         */
        DELTA_BASE
    }

    /**
     * @param prefix the entry-name prefix, for example {@code "vdi/"}
     * @param verifyChecksums false only to ignore mismatching checksums (vhd-tool's {@code
     *     --ignore-checksums}); the companion entries must still be present and well-formed
     * @param target what the sink holds before the import
     * @param maxChunkSize bound on any chunk length, at most 64 MiB
     */
    public TarReader(String prefix, boolean verifyChecksums, Target target, int maxChunkSize) {
        this.prefix = Objects.requireNonNull(prefix, "prefix");
        if (maxChunkSize < 1 || maxChunkSize > DEFAULT_MAX_CHUNK_SIZE) {
            throw new IllegalArgumentException("max chunk size out of [1, 64 MiB]: " + maxChunkSize);
        }
        this.verifyChecksums = verifyChecksums;
        this.target = Objects.requireNonNull(target, "target");
        this.maxChunkSize = maxChunkSize;
    }

    /** A reader for xapi's {@code vdi/} prefix that verifies checksums. */
    public static TarReader forVdi(boolean prezeroed) {
        return forVdi(prezeroed ? Target.ZEROED : Target.DIRTY);
    }

    /** A reader for xapi's {@code vdi/} prefix that verifies checksums, for the given target. */
    public static TarReader forVdi(Target target) {
        return new TarReader("vdi/", true, target, DEFAULT_MAX_CHUNK_SIZE);
    }

    /** Called with the number of stream bytes consumed so far. */
    public TarReader progress(LongConsumer consumer) {
        this.progress = Objects.requireNonNull(consumer, "consumer");
        return this;
    }

    /**
     * Reads the whole stream (to its end of input) into {@code sink}.
     *
     * @param exactSize when true, the chunks must cover exactly {@code [0, sink.size())}; when
     *     false they must fit inside it and the covered length is returned (a stream whose disk
     *     size is not known beforehand)
     * @return the number of disk bytes the stream covers (the disk size)
     * @throws CorruptImageException when the stream is malformed, truncated, fails a checksum, or
     *     does not fit the sink
     */
    public long read(InputStream input, BlockSink sink, boolean exactSize) throws IOException {
        Counting in = new Counting(input);
        long limit = sink.size();
        byte[] block = new byte[TarHeader.BLOCK];
        byte[] buffer = null;
        long lastIndex = -1;
        long firstLength = -1;
        long diskOffset = 0;
        while (true) {
            long headerAt = in.position;
            if (!readBlock(in, block, true)) {
                throw CorruptImageException.at(
                        headerAt, "tar header", "end of input", "a chunk header or the end-of-archive blocks");
            }
            if (TarHeader.isZeroBlock(block)) {
                readEndOfArchive(in, block);
                break;
            }
            TarHeader.Entry entry = TarHeader.parse(block, headerAt);
            long index = chunkNumber(entry.name(), headerAt);
            if (index <= lastIndex) {
                throw CorruptImageException.at(
                        headerAt, "tar chunk number of " + entry.name(), index, "more than " + lastIndex);
            }
            long length = entry.size();
            if (firstLength < 0) {
                if (length < 1 || length > maxChunkSize) {
                    throw CorruptImageException.at(
                            headerAt + 124,
                            "first chunk length (the chunk size) of " + entry.name(),
                            length,
                            "in [1, " + maxChunkSize + "]");
                }
                firstLength = length;
                buffer = new byte[(int) length];
            } else if (length > firstLength) {
                throw CorruptImageException.at(
                        headerAt + 124,
                        "chunk length of " + entry.name(),
                        length,
                        "at most the first chunk's length " + firstLength);
            }
            long gapChunks = index - lastIndex - 1;
            long gapBytes;
            long chunkStart;
            try {
                gapBytes = Math.multiplyExact(gapChunks, firstLength);
                chunkStart = Math.addExact(diskOffset, gapBytes);
                Math.addExact(chunkStart, length);
            } catch (ArithmeticException e) {
                throw CorruptImageException.at(
                        headerAt, "tar chunk number of " + entry.name(), index, "a disk offset below 2^63");
            }
            if (chunkStart > limit - length) {
                throw CorruptImageException.at(
                        headerAt,
                        "end of chunk " + entry.name() + " on the disk",
                        chunkStart + length,
                        "at most the disk size " + limit);
            }
            long dataAt = in.position;
            int dataLength = (int) length;
            if (in.readNBytes(buffer, 0, dataLength) != dataLength || !skipPadding(in, dataLength)) {
                throw CorruptImageException.at(
                        in.position,
                        "data of " + entry.name(),
                        "end of input",
                        dataLength + " bytes from offset " + dataAt);
            }
            readChecksum(in, block, entry.name(), buffer, dataLength);
            if (gapBytes > 0 && target == Target.DIRTY) {
                sink.writeZeroes(diskOffset, gapBytes);
            }
            if (dataLength > 0) {
                if (RawZeroScan.isAllZero(buffer, 0, dataLength)) {
                    if (target != Target.ZEROED) {
                        sink.writeZeroes(chunkStart, dataLength);
                    }
                } else {
                    sink.write(chunkStart, ByteBuffer.wrap(buffer, 0, dataLength));
                }
            }
            diskOffset = chunkStart + length;
            lastIndex = index;
            progress.accept(in.position);
        }
        if (exactSize && diskOffset != limit) {
            throw CorruptImageException.at(
                    in.position, "disk bytes covered by the tar chunks", diskOffset, "the disk size " + limit);
        }
        return diskOffset;
    }

    private void readChecksum(Counting in, byte[] block, String chunkName, byte[] data, int dataLength)
            throws IOException {
        long headerAt = in.position;
        if (!readBlock(in, block, true)) {
            throw CorruptImageException.at(
                    headerAt, "checksum header after " + chunkName, "end of input", "a tar header");
        }
        if (TarHeader.isZeroBlock(block)) {
            throw CorruptImageException.at(
                    headerAt, "checksum header after " + chunkName, "end-of-archive block", "a tar header");
        }
        TarHeader.Entry entry = TarHeader.parse(block, headerAt);
        TarChecksum kind = TarChecksum.ofName(entry.name());
        if (kind == null || !entry.name().equals(chunkName + kind.extension())) {
            throw CorruptImageException.at(
                    headerAt, "checksum entry name", entry.name(), chunkName + ".xxhash or " + chunkName + ".checksum");
        }
        if (entry.size() != kind.textLength()) {
            throw CorruptImageException.at(headerAt + 124, "size of " + entry.name(), entry.size(), kind.textLength());
        }
        long textAt = in.position;
        if (!readBlock(in, block, false)) {
            throw CorruptImageException.at(
                    in.position, "checksum text of " + chunkName, "end of input", "512 bytes from " + textAt);
        }
        String actual = new String(block, 0, kind.textLength(), StandardCharsets.US_ASCII);
        if (verifyChecksums) {
            String expected = kind.compute(data, dataLength);
            if (!expected.equals(actual)) {
                throw CorruptImageException.at(
                        textAt,
                        kind.extension().substring(1) + " of " + chunkName + " (as stored)",
                        actual,
                        expected + " (computed from the chunk)");
            }
        }
    }

    /** After the first zero block: a second one, then only zero padding up to the end of input. */
    private static void readEndOfArchive(Counting in, byte[] block) throws IOException {
        long secondAt = in.position;
        if (!readBlock(in, block, false) || !TarHeader.isZeroBlock(block)) {
            throw CorruptImageException.at(
                    secondAt, "second end-of-archive block", "missing or non-zero", "512 zero bytes");
        }
        long trailingFrom = in.position;
        byte[] buffer = new byte[8192];
        while (true) {
            int read = in.read(buffer, 0, buffer.length);
            if (read < 0) {
                return;
            }
            for (int i = 0; i < read; i++) {
                if (buffer[i] != 0) {
                    throw CorruptImageException.at(
                            in.position - read + i,
                            "byte after the end of the archive",
                            "0x" + Integer.toHexString(buffer[i] & 0xff),
                            "zero padding or the end of input");
                }
            }
            if (in.position - trailingFrom > MAX_TRAILING_ZEROS) {
                throw CorruptImageException.at(
                        in.position,
                        "zero padding after the end of the archive",
                        "more than " + MAX_TRAILING_ZEROS + " bytes",
                        "at most " + MAX_TRAILING_ZEROS);
            }
        }
    }

    /** The chunk number of a data entry named {@code prefix + digits}. */
    private long chunkNumber(String name, long headerAt) throws CorruptImageException {
        if (!name.startsWith(prefix)) {
            throw CorruptImageException.at(headerAt, "tar entry name", name, "a chunk named " + prefix + "NNNNNNNN");
        }
        String digits = name.substring(prefix.length());
        if (digits.isEmpty() || digits.length() > 12 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw CorruptImageException.at(
                    headerAt,
                    "tar entry name",
                    name,
                    TarChecksum.ofName(name) != null
                            ? "a chunk before its checksum companion"
                            : "a chunk named " + prefix + "NNNNNNNN (decimal counter)");
        }
        return Long.parseLong(digits);
    }

    /** Reads one block; false on end of input (at the block start when {@code atBoundary}). */
    private static boolean readBlock(Counting in, byte[] block, boolean atBoundary) throws IOException {
        long start = in.position;
        int read = in.readNBytes(block, 0, TarHeader.BLOCK);
        if (read == TarHeader.BLOCK) {
            return true;
        }
        if (read > 0 || !atBoundary) {
            throw CorruptImageException.at(start, "tar block", "end of input after " + read + " bytes", "512 bytes");
        }
        return false;
    }

    private static boolean skipPadding(Counting in, int dataLength) throws IOException {
        long padding = TarPlan.padded(dataLength) - dataLength;
        return in.skipNBytes2(padding);
    }

    /** Counts consumed bytes so errors can name stream offsets. */
    private static final class Counting extends InputStream {
        private final InputStream in;
        private final byte[] skipBuffer = new byte[TarHeader.BLOCK];
        long position;

        Counting(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                position++;
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int read = in.read(buffer, offset, length);
            if (read > 0) {
                position += read;
            }
            return read;
        }

        /** Skips exactly {@code count} bytes (< 512); false on end of input. */
        boolean skipNBytes2(long count) throws IOException {
            int want = (int) count;
            return readNBytes(skipBuffer, 0, want) == want;
        }
    }
}
