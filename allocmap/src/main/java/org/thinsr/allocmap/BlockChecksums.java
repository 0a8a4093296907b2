package org.thinsr.allocmap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * SHA-256 of every fixed-size block of a disk that holds data, to prove two disks equal without
 * sending their bytes.
 *
 * <p>Block {@code i} covers {@code [i * blockSize, min((i + 1) * blockSize, size))}. A block that
 * the map calls HOLE or ZERO everywhere, or that reads as all zeros, is {@link #ZERO} and is not
 * hashed; every other block is the lower-case hex SHA-256 of its bytes. So two disks with equal
 * content have equal checksum lists whatever their allocation.
 */
public final class BlockChecksums {
    /** The checksum of a block that reads as zeros. */
    public static final String ZERO = "zero";

    public static final int MIN_BLOCK_BYTES = 4096;
    public static final int MAX_BLOCK_BYTES = 64 << 20;

    private BlockChecksums() {}

    /** Checksums of the blocks of {@code source} (whose map is {@code map}) that start in {@code [from, to)}. */
    public static String[] compute(BlockSource source, AllocationMap map, int blockSize, long from, long to)
            throws IOException {
        Objects.requireNonNull(source, "source");
        checkBlockSize(blockSize);
        long size = map.virtualSize();
        if (from < 0 || from > to || to > size || from % blockSize != 0) {
            throw new IllegalArgumentException(
                    "range [" + from + ", " + to + ") must start on a block boundary inside [0, " + size + "]");
        }
        long blocks = (to - from + blockSize - 1) / blockSize;
        if (blocks > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many blocks: " + blocks);
        }
        String[] sums = new String[(int) blocks];
        ExtentSet data = map.nonZeroExtents();
        MessageDigest digest = sha256();
        byte[] bytes = new byte[blockSize];
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        for (int i = 0; i < sums.length; i++) {
            long start = from + (long) i * blockSize;
            long end = Math.min(size, start + blockSize);
            if (!data.intersects(start, end)) {
                sums[i] = ZERO;
                continue;
            }
            int length = (int) (end - start);
            buffer.clear().limit(length);
            source.readFully(start, buffer);
            if (isZero(bytes, length)) {
                sums[i] = ZERO;
            } else {
                digest.reset();
                digest.update(bytes, 0, length);
                sums[i] = HexFormat.of().formatHex(digest.digest());
            }
        }
        return sums;
    }

    public static void checkBlockSize(int blockSize) {
        if (blockSize < MIN_BLOCK_BYTES || blockSize > MAX_BLOCK_BYTES || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size: actual " + blockSize + ", expected a power of two in ["
                    + MIN_BLOCK_BYTES + ", " + MAX_BLOCK_BYTES + "]");
        }
    }

    static boolean isZero(byte[] bytes, int length) {
        ByteBuffer longs = ByteBuffer.wrap(bytes, 0, length);
        int i = 0;
        for (; i + 8 <= length; i += 8) {
            if (longs.getLong(i) != 0) {
                return false;
            }
        }
        for (; i < length; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
