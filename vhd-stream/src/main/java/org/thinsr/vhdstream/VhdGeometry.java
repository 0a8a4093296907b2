package org.thinsr.vhdstream;

/**
 * The footer's CHS {@code Disk Geometry}: cylinders (16 bits), heads (8 bits), sectors per track (8
 * bits).
 *
 * <p>thinsr computes it with the algorithm of the VHD spec's appendix "CHS Calculation" from the
 * exact virtual size and writes the exact size into {@code Current Size}; the geometry may describe
 * fewer sectors than the disk has (it rounds down, and stops at 65535 × 16 × 255 sectors ≈ 127
 * GiB). Readers that trust {@code Current Size} (see {@link VhdOptions#creatorApplication()}) see
 * the exact size.
 *
 * @param cylinders in {@code [0, 65535]}
 * @param heads in {@code [0, 255]}
 * @param sectorsPerTrack in {@code [0, 255]}
 */
public record VhdGeometry(int cylinders, int heads, int sectorsPerTrack) {
    /** 65535 × 16 × 255 sectors: the largest geometry; bigger disks are clamped to it. */
    static final long MAX_GEOMETRY_SECTORS = 65535L * 16 * 255;

    public VhdGeometry {
        if (cylinders < 0 || cylinders > 0xFFFF) {
            throw new IllegalArgumentException("cylinders out of [0, 65535]: " + cylinders);
        }
        if (heads < 0 || heads > 0xFF) {
            throw new IllegalArgumentException("heads out of [0, 255]: " + heads);
        }
        if (sectorsPerTrack < 0 || sectorsPerTrack > 0xFF) {
            throw new IllegalArgumentException("sectors per track out of [0, 255]: " + sectorsPerTrack);
        }
    }

    /**
     * The spec's CHS calculation for a disk of {@code sizeBytes} bytes ({@code totalSectors = size /
     * 512}, rounded down).
     */
    public static VhdGeometry of(long sizeBytes) {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("size is negative: " + sizeBytes);
        }
        long totalSectors = Math.min(sizeBytes / VhdFormat.SECTOR_SIZE, MAX_GEOMETRY_SECTORS);
        long sectorsPerTrack;
        long heads;
        long cylindersTimesHeads;
        if (totalSectors >= 65535L * 16 * 63) {
            sectorsPerTrack = 255;
            heads = 16;
            cylindersTimesHeads = totalSectors / sectorsPerTrack;
        } else {
            sectorsPerTrack = 17;
            cylindersTimesHeads = totalSectors / sectorsPerTrack;
            heads = (cylindersTimesHeads + 1023) / 1024;
            if (heads < 4) {
                heads = 4;
            }
            if (cylindersTimesHeads >= heads * 1024 || heads > 16) {
                sectorsPerTrack = 31;
                heads = 16;
                cylindersTimesHeads = totalSectors / sectorsPerTrack;
            }
            if (cylindersTimesHeads >= heads * 1024) {
                sectorsPerTrack = 63;
                heads = 16;
                cylindersTimesHeads = totalSectors / sectorsPerTrack;
            }
        }
        long cylinders = cylindersTimesHeads / heads;
        return new VhdGeometry((int) cylinders, (int) heads, (int) sectorsPerTrack);
    }

    /** The four bytes of the field, as one big-endian {@code int}. */
    int encode() {
        return (cylinders << 16) | (heads << 8) | sectorsPerTrack;
    }

    static VhdGeometry decode(int field) {
        return new VhdGeometry(field >>> 16, (field >>> 8) & 0xFF, field & 0xFF);
    }

    /** Cylinders × heads × sectors per track. */
    public long totalSectors() {
        return (long) cylinders * heads * sectorsPerTrack;
    }

    @Override
    public String toString() {
        return cylinders + "/" + heads + "/" + sectorsPerTrack;
    }
}
