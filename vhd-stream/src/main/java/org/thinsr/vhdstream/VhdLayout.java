package org.thinsr.vhdstream;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * The complete byte layout of a VHD export, fixed before its first byte is written: an immutable
 * value from which any byte range of the image can be produced ({@link VhdWriter}).
 *
 * <p>Dynamic and differencing disks:
 *
 * <pre>
 *  offset                       bytes                 part
 *  0                            512                   FOOTER_COPY
 *  512                          1024                  HEADER (table offset 1536)
 *  1536                         batBytes              BAT: maxTableEntries × u32 BE, 0xFF-padded
 *  1536 + batBytes              locatorBytes          PARENT_LOCATOR data (differencing only)
 *  firstBlockOffset + k × (512 + 2 MiB)
 *                               512                   BITMAP of the k-th present block: all ones
 *                               2 MiB                 BLOCK_DATA: virtual [i × 2 MiB, (i + 1) × 2 MiB)
 *  length − 512                 512                   FOOTER
 * </pre>
 *
 * where present blocks are in ascending virtual order and BAT entry {@code i} of the k-th present
 * block is its bitmap's sector number; absent blocks have 0xFFFFFFFF. Bytes of the last block past
 * the virtual size are zeros.
 *
 * <p>Fixed disks: {@code [0, size)} BLOCK_DATA (the disk itself), then the FOOTER.
 *
 * <p>Which blocks are present: for a dynamic disk, those touching {@link
 * AllocationMap#nonZeroExtents()} (DATA runs); for a differencing disk, where the map is the delta
 * against the parent, those touching {@link AllocationMap#dataExtents()} (DATA or ZERO: changed),
 * and each present block carries the source's full content of the block. Instances are immutable
 * and thread-safe.
 */
public final class VhdLayout {
    /** The structure that covers a byte of the image. */
    public enum Part {
        FOOTER_COPY,
        HEADER,
        BAT,
        PARENT_LOCATOR,
        BITMAP,
        BLOCK_DATA,
        FOOTER
    }

    static final long HEADER_OFFSET = VhdFormat.FOOTER_SIZE;
    static final long BAT_OFFSET = HEADER_OFFSET + VhdFormat.HEADER_SIZE;

    private final VhdOptions options;
    private final long virtualSize;
    private final int blockSize;
    private final int bitmapSize;
    private final int maxTableEntries;
    private final long batBytes;
    private final long locatorOffset;
    private final byte[] locatorData;
    private final long firstBlockOffset;
    private final int[] presentBlocks;
    private final long length;
    private final byte[] footer;
    private final byte[] header;
    private final ExtentSet readExtents;

    private VhdLayout(VhdOptions options, long virtualSize, int[] presentBlocks, ExtentSet readExtents) {
        this.options = options;
        this.virtualSize = virtualSize;
        this.blockSize = VhdFormat.DEFAULT_BLOCK_SIZE;
        this.bitmapSize = VhdFormat.bitmapSize(blockSize);
        this.presentBlocks = presentBlocks;
        this.readExtents = readExtents;
        boolean fixed = options.diskType() == VhdDiskType.FIXED;
        this.maxTableEntries = fixed ? 0 : Math.toIntExact((virtualSize + blockSize - 1) / blockSize);
        this.batBytes = fixed ? 0 : VhdFormat.roundUpToSector(4L * maxTableEntries);
        this.locatorOffset = BAT_OFFSET + batBytes;
        List<VhdParentLocator> locators = new ArrayList<>();
        ByteBuffer locatorBuffer = ByteBuffer.allocate(locatorRegionSize(options));
        if (options.parent() != null) {
            for (VhdParent.Locator locator : options.parent().locators()) {
                byte[] data = locator.data();
                long space = VhdFormat.roundUpToSector(Math.max(1, data.length));
                locators.add(new VhdParentLocator(
                        locator.platformCode(),
                        Math.toIntExact(space / VhdFormat.SECTOR_SIZE),
                        data.length,
                        locatorOffset + locatorBuffer.position()));
                locatorBuffer.put(data);
                locatorBuffer.position(Math.toIntExact(locatorBuffer.position() + space - data.length));
            }
        }
        while (locators.size() < VhdDynamicHeader.LOCATOR_COUNT) {
            locators.add(VhdParentLocator.NONE);
        }
        this.locatorData = locatorBuffer.array();
        this.firstBlockOffset = locatorOffset + locatorData.length;
        long blocksBytes = (long) presentBlocks.length * (bitmapSize + blockSize);
        this.length =
                fixed ? virtualSize + VhdFormat.FOOTER_SIZE : firstBlockOffset + blocksBytes + VhdFormat.FOOTER_SIZE;
        if (!fixed && (firstBlockOffset + blocksBytes) / VhdFormat.SECTOR_SIZE > 0xFFFFFFFEL) {
            throw new ThinsrException(ErrorCode.UNSUPPORTED, "VHD too large for 32-bit BAT sector numbers");
        }
        VhdFooter footerValue = new VhdFooter(
                VhdFormat.FOOTER_COOKIE,
                VhdFormat.FEATURES_RESERVED,
                VhdFormat.VERSION_1_0,
                fixed ? VhdFormat.NO_DATA_OFFSET : HEADER_OFFSET,
                VhdFormat.timestampOf(options.timestamp()),
                options.creatorApplication(),
                VhdOptions.CREATOR_VERSION,
                VhdOptions.CREATOR_HOST_OS,
                virtualSize,
                virtualSize,
                VhdGeometry.of(virtualSize),
                options.diskType().code(),
                0,
                options.uniqueId(),
                false);
        this.footer = footerValue.encode();
        if (fixed) {
            this.header = new byte[0];
        } else {
            VhdParent parent = options.parent();
            this.header = new VhdDynamicHeader(
                            VhdFormat.HEADER_COOKIE,
                            VhdFormat.NO_DATA_OFFSET,
                            BAT_OFFSET,
                            VhdFormat.VERSION_1_0,
                            maxTableEntries,
                            blockSize,
                            0,
                            parent == null ? new java.util.UUID(0, 0) : parent.uniqueId(),
                            parent == null ? 0 : VhdFormat.timestampOf(parent.timestamp()),
                            parent == null ? "" : parent.unicodeName(),
                            locators)
                    .encode();
        }
    }

    private static int locatorRegionSize(VhdOptions options) {
        if (options.parent() == null) {
            return 0;
        }
        long total = 0;
        for (VhdParent.Locator locator : options.parent().locators()) {
            total += VhdFormat.roundUpToSector(Math.max(1, locator.data().length));
        }
        return Math.toIntExact(total);
    }

    /**
     * Plans the image of a disk described by {@code map}, without reading any data: every block
     * touching the map's data is present. This is the layout {@link #plan(AllocationMap, VhdOptions,
     * BlockSource)} produces when {@link VhdOptions#skipZeroBlocks()} is off.
     *
     * @throws ThinsrException {@code INVALID_ARGUMENT} when the size is not a multiple of 512,
     *     {@code UNSUPPORTED} when it is above 2040 GiB
     */
    public static VhdLayout plan(AllocationMap map, VhdOptions options) {
        Objects.requireNonNull(map, "map");
        Objects.requireNonNull(options, "options");
        long size = map.virtualSize();
        checkSize(size);
        if (size == 0 && options.diskType() == VhdDiskType.FIXED) {
            throw new ThinsrException(
                    ErrorCode.UNSUPPORTED,
                    "a fixed VHD of a 0-byte disk would be only its footer, which readers (qemu) take for"
                            + " the footer copy of a dynamic disk; export it as a dynamic VHD");
        }
        ExtentSet readExtents = readExtents(map, options.diskType());
        int[] blocks = options.diskType() == VhdDiskType.FIXED ? new int[0] : touchedBlocks(map, options.diskType());
        return new VhdLayout(options, size, blocks, readExtents);
    }

    /**
     * Plans the image like {@link #plan(AllocationMap, VhdOptions)} and then, for a dynamic disk with
     * {@link VhdOptions#skipZeroBlocks()}, reads the DATA extents of every present block from {@code
     * source} and leaves out the blocks that read as all zeros.
     *
     * <p>Cost: the first {@link #PROBE_SIZE} bytes of each DATA extent of a present block are read
     * first, and a block is read whole only when all its probes are zeros. A block of data
     * usually costs one 4 KiB read here; an allocated all-zero block costs a read of its 2 MiB
     * (and is then left out).
     *
     * @param source the disk the map describes; read-only here; not closed
     */
    public static VhdLayout plan(AllocationMap map, VhdOptions options, BlockSource source) throws IOException {
        VhdLayout layout = plan(map, options);
        if (options.diskType() != VhdDiskType.DYNAMIC
                || !options.skipZeroBlocks()
                || layout.presentBlocks.length == 0) {
            return layout;
        }
        if (source.size() < layout.virtualSize) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "source is smaller than its allocation map: " + source.size() + " < " + layout.virtualSize);
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(layout.blockSize);
        int[] kept = new int[layout.presentBlocks.length];
        int keptCount = 0;
        for (int block : layout.presentBlocks) {
            long start = (long) block * layout.blockSize;
            long end = Math.min(start + layout.blockSize, layout.virtualSize);
            if (!allZero(source, layout.readExtents.clip(start, end), buffer)) {
                kept[keptCount++] = block;
            }
        }
        return new VhdLayout(options, layout.virtualSize, Arrays.copyOf(kept, keptCount), layout.readExtents);
    }

    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[VhdFormat.DEFAULT_BLOCK_SIZE]);

    /**
     * Bytes read first from each extent: data blocks usually have a non-zero byte near their start,
     * so the scan of a block of data costs one small read instead of 2 MiB.
     */
    static final int PROBE_SIZE = 4096;

    /**
     * Whether {@code extents} of {@code source} read as zeros. Each extent is probed with its first
     * {@link #PROBE_SIZE} bytes before the rest is read, so the first non-zero probe ends the read.
     */
    static boolean allZero(BlockSource source, ExtentSet extents, ByteBuffer buffer) throws IOException {
        for (int i = 0; i < extents.size(); i++) {
            long start = extents.start(i);
            long end = extents.end(i);
            long probeEnd = Math.min(end, start + PROBE_SIZE);
            if (!readIsZero(source, start, probeEnd, buffer)) {
                return false;
            }
        }
        for (int i = 0; i < extents.size(); i++) {
            long start = Math.min(extents.end(i), extents.start(i) + PROBE_SIZE);
            for (long position = start; position < extents.end(i); position += buffer.capacity()) {
                if (!readIsZero(source, position, Math.min(extents.end(i), position + buffer.capacity()), buffer)) {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean readIsZero(BlockSource source, long start, long end, ByteBuffer buffer) throws IOException {
        if (start == end) {
            return true;
        }
        buffer.clear().limit(Math.toIntExact(end - start));
        source.readFully(start, buffer);
        buffer.flip();
        return isZero(buffer);
    }

    /** Whether every remaining byte of {@code buffer} is zero (vectorised compare). */
    static boolean isZero(ByteBuffer buffer) {
        MemorySegment data = MemorySegment.ofBuffer(buffer);
        long offset = 0;
        while (offset < data.byteSize()) {
            long chunk = Math.min(ZEROS.byteSize(), data.byteSize() - offset);
            if (MemorySegment.mismatch(data, offset, offset + chunk, ZEROS, 0, chunk) != -1) {
                return false;
            }
            offset += chunk;
        }
        return true;
    }

    static void checkSize(long size) {
        if (size % VhdFormat.SECTOR_SIZE != 0) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "a VHD holds whole 512-byte sectors; the disk size " + size + " is not a multiple of 512");
        }
        if (size > VhdFormat.MAX_VIRTUAL_SIZE) {
            throw new ThinsrException(
                    ErrorCode.UNSUPPORTED,
                    "a VHD holds at most 2040 GiB (" + VhdFormat.MAX_VIRTUAL_SIZE + " bytes); the disk has " + size
                            + " bytes",
                    Long.toString(size),
                    Long.toString(VhdFormat.MAX_VIRTUAL_SIZE));
        }
    }

    private static ExtentSet readExtents(AllocationMap map, VhdDiskType type) {
        return switch (type) {
            case FIXED, DYNAMIC -> map.nonZeroExtents();
            case DIFFERENCING -> ExtentSet.of(0, map.virtualSize());
        };
    }

    private static int[] touchedBlocks(AllocationMap map, VhdDiskType type) {
        ExtentSet touched =
                switch (type) {
                    case FIXED, DYNAMIC -> map.nonZeroExtents();
                    case DIFFERENCING -> map.dataExtents();
                };
        long blockSize = VhdFormat.DEFAULT_BLOCK_SIZE;
        ExtentSet aligned = touched.alignOut(blockSize);
        int count = 0;
        for (int i = 0; i < aligned.size(); i++) {
            count += Math.toIntExact((aligned.end(i) - aligned.start(i) + blockSize - 1) / blockSize);
        }
        int[] blocks = new int[count];
        int next = 0;
        for (int i = 0; i < aligned.size(); i++) {
            for (long start = aligned.start(i); start < aligned.end(i); start += blockSize) {
                blocks[next++] = Math.toIntExact(start / blockSize);
            }
        }
        return blocks;
    }

    /** The exact length of the image in bytes. */
    public long length() {
        return length;
    }

    /** The disk's virtual size, written as {@code Current Size}. */
    public long virtualSize() {
        return virtualSize;
    }

    public VhdOptions options() {
        return options;
    }

    /** Bytes of data a block: 2 MiB. */
    public int blockSize() {
        return blockSize;
    }

    /** BAT entries ({@code ceil(virtualSize / blockSize)}); 0 for a fixed disk. */
    public int maxTableEntries() {
        return maxTableEntries;
    }

    /** How many blocks are in the image. */
    public int presentBlockCount() {
        return presentBlocks.length;
    }

    /** The virtual index of the {@code k}-th present block (ascending). */
    public int presentBlock(int k) {
        return presentBlocks[k];
    }

    /** File offset of the {@code k}-th present block's bitmap. */
    public long presentBlockOffset(int k) {
        return firstBlockOffset + (long) k * (bitmapSize + blockSize);
    }

    /** The 512 footer bytes (a copy). */
    public byte[] footer() {
        return footer.clone();
    }

    /** Extents of the source that are read; everything else reads as zeros. */
    ExtentSet readExtents() {
        return readExtents;
    }

    int bitmapSize() {
        return bitmapSize;
    }

    long firstBlockOffset() {
        return firstBlockOffset;
    }

    long locatorOffset() {
        return locatorOffset;
    }

    byte[] headerBytes() {
        return header;
    }

    byte[] footerBytes() {
        return footer;
    }

    byte[] locatorBytes() {
        return locatorData;
    }

    /** The BAT entry of virtual block {@code index}: its bitmap's sector, or 0xFFFFFFFF. */
    int batEntry(int index) {
        int k = Arrays.binarySearch(presentBlocks, index);
        return k < 0 ? VhdFormat.UNUSED_BAT_ENTRY : (int) (presentBlockOffset(k) / VhdFormat.SECTOR_SIZE);
    }

    /** Fills {@code out} with BAT bytes starting at BAT-relative byte {@code from}. */
    void batBytes(long from, ByteBuffer out) {
        ByteBuffer entry = ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN);
        long position = from;
        while (out.hasRemaining()) {
            int index = Math.toIntExact(position / 4);
            int value = index < maxTableEntries ? batEntry(index) : VhdFormat.UNUSED_BAT_ENTRY;
            entry.putInt(0, value);
            int within = (int) (position % 4);
            int n = Math.min(4 - within, out.remaining());
            out.put(entry.array(), within, n);
            position += n;
        }
    }

    /** Which part of the image covers byte {@code offset}, in {@code [0, length())}. */
    public Part partAt(long offset) {
        return span(offset).part();
    }

    /** A part and the bounds of the piece of it that covers a byte: {@code [start, end)} in the file. */
    record Span(Part part, long start, long end, int block) {}

    Span span(long offset) {
        if (offset < 0 || offset >= length) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside [0, " + length + ")");
        }
        if (offset >= length - VhdFormat.FOOTER_SIZE) {
            return new Span(Part.FOOTER, length - VhdFormat.FOOTER_SIZE, length, -1);
        }
        if (options.diskType() == VhdDiskType.FIXED) {
            return new Span(Part.BLOCK_DATA, 0, virtualSize, -1);
        }
        if (offset < HEADER_OFFSET) {
            return new Span(Part.FOOTER_COPY, 0, HEADER_OFFSET, -1);
        }
        if (offset < BAT_OFFSET) {
            return new Span(Part.HEADER, HEADER_OFFSET, BAT_OFFSET, -1);
        }
        if (offset < locatorOffset) {
            return new Span(Part.BAT, BAT_OFFSET, locatorOffset, -1);
        }
        if (offset < firstBlockOffset) {
            return new Span(Part.PARENT_LOCATOR, locatorOffset, firstBlockOffset, -1);
        }
        long stride = (long) bitmapSize + blockSize;
        int k = Math.toIntExact((offset - firstBlockOffset) / stride);
        long bitmapStart = firstBlockOffset + k * stride;
        if (offset < bitmapStart + bitmapSize) {
            return new Span(Part.BITMAP, bitmapStart, bitmapStart + bitmapSize, k);
        }
        return new Span(Part.BLOCK_DATA, bitmapStart + bitmapSize, bitmapStart + stride, k);
    }

    @Override
    public String toString() {
        return "VhdLayout[" + options.diskType() + ", size " + virtualSize + ", " + presentBlocks.length
                + " blocks, length " + length + "]";
    }
}
