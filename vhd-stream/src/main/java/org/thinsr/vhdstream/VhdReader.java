package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.util.Objects;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Imports a fixed, dynamic or differencing VHD into a {@link BlockSink}.
 *
 * <p>Two inputs: a seekable file (any block order) and a forward-only stream of known length, such
 * as an HTTP body with {@code Content-Length}. Both read the metadata first (footer copy, dynamic
 * header, BAT; a file also its trailing footer), check it (see {@link VhdImage}) and then visit the
 * blocks in ascending file order, each one's sector bitmap then its data. A stream's trailing
 * footer is read last, at {@code (length − 1) & ~511} (as vhd-tool does), and must equal the copy.
 * A stream whose blocks lie before the end of its BAT cannot be read forward-only and is rejected
 * before anything is written.
 *
 * <p>What is written: only sectors whose bitmap bit is set (in runs; runs that read as zeros
 * become {@link BlockSink#writeZeroes}). For a fixed or dynamic disk every other sector of the disk
 * (unset bits, absent blocks) is made zero with {@code writeZeroes} unless the caller says the
 * target already reads as zeros; for a differencing disk nothing else is written (those sectors
 * belong to the parent). Parent locators are checked but not followed.
 *
 * <p>Failure: any inconsistency throws {@link CorruptImageException} (offset, field, actual,
 * expected). A stream's data may already have been partly written then; the sink is flushed only
 * after the trailing footer was checked, and the caller must treat the target as incomplete. The
 * caller closes the input and the sink.
 */
public final class VhdReader {
    /** Granularity of zero detection inside written runs (as qemu-img convert's default -S 4k). */
    static final int ZERO_GRANULE = 4096;

    private static final int CHUNK = 4 << 20;

    private final BlockSink sink;
    private final boolean targetIsZero;
    private int chunkBytes;
    private ByteBuffer chunk; // only for reads that are not done in place: see chunk()
    private long bytesWritten;
    private long bytesZeroed;

    private VhdReader(BlockSink sink, boolean targetIsZero) {
        this.sink = Objects.requireNonNull(sink, "sink");
        this.targetIsZero = targetIsZero;
    }

    /**
     * What an import did.
     *
     * @param diskType the image's type
     * @param virtualSize the disk's size (the footer's current size)
     * @param blocks blocks read (0 for a fixed disk)
     * @param bytesWritten bytes passed to {@link BlockSink#write}
     * @param bytesZeroed bytes passed to {@link BlockSink#writeZeroes}
     */
    public record Result(VhdDiskType diskType, long virtualSize, int blocks, long bytesWritten, long bytesZeroed) {}

    /**
     * Imports the VHD in {@code file} (read by position; its position is not used).
     *
     * @param targetIsZero whether the sink already reads as zeros everywhere (a new sparse target),
     *     so that unallocated sectors need no {@code writeZeroes}
     */
    public static Result readFile(FileChannel file, BlockSink sink, boolean targetIsZero) throws IOException {
        return new VhdReader(sink, targetIsZero).run(new VhdInput.Seekable(file));
    }

    /**
     * Imports a VHD of exactly {@code length} bytes read forward only from {@code in}.
     *
     * @param length the stream's length (for HTTP, its Content-Length): the footer is at {@code
     *     (length - 1) & ~511}
     */
    public static Result readStream(ReadableByteChannel in, long length, BlockSink sink, boolean targetIsZero)
            throws IOException {
        if (length < 0) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "stream length is negative: " + length);
        }
        return new VhdReader(sink, targetIsZero).run(new VhdInput.Forward(in, length));
    }

    /** {@link #readStream(ReadableByteChannel, long, BlockSink, boolean)} over an {@link InputStream}. */
    public static Result readStream(InputStream in, long length, BlockSink sink, boolean targetIsZero)
            throws IOException {
        return readStream(Channels.newChannel(in), length, sink, targetIsZero);
    }

    private Result run(VhdInput input) throws IOException {
        VhdImage image = VhdImage.read(input);
        // Sized to what one copy can need: at most a block, at most the disk, at most 4 MiB.
        long largestCopy = image.footer() == null
                ? input.length()
                : image.header() == null
                        ? image.virtualSize()
                        : Math.min(image.virtualSize(), image.header().blockSize());
        chunkBytes = (int) Math.max(VhdFormat.SECTOR_SIZE, Math.min(CHUNK, largestCopy));
        Result result;
        if (image.footer() == null) {
            result = streamFixed((VhdInput.Forward) input, image.leadingData());
        } else if (image.diskType() == VhdDiskType.FIXED) {
            checkSinkSize(image.virtualSize());
            copyData(input, 0, image.virtualSize(), 0, "fixed disk data");
            result = new Result(VhdDiskType.FIXED, image.virtualSize(), 0, bytesWritten, bytesZeroed);
        } else {
            checkSinkSize(image.virtualSize());
            readBlocks(input, image);
            if (input instanceof VhdInput.Forward forward) {
                long footerOffset = (input.length() - 1) & ~(long) (VhdFormat.SECTOR_SIZE - 1);
                byte[] last = VhdImage.readTrailingFooter(input, footerOffset);
                VhdFooter trailing = VhdFooter.read(last, footerOffset);
                VhdImage.requireSameFooter(image.footer(), trailing, footerOffset);
                forward.expectEnd();
            }
            result = new Result(
                    image.diskType(), image.virtualSize(), image.blocksByOffset().length, bytesWritten, bytesZeroed);
        }
        sink.flush();
        return result;
    }

    private void checkSinkSize(long virtualSize) throws IOException {
        if (sink.size() < virtualSize) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "the target has " + sink.size() + " bytes, the VHD's disk " + virtualSize,
                    Long.toString(sink.size()),
                    Long.toString(virtualSize));
        }
    }

    /** A fixed disk on a stream: data from 0, then the footer, which must agree. */
    private Result streamFixed(VhdInput.Forward input, byte[] firstSector) throws IOException {
        long footerOffset = (input.length() - 1) & ~(long) (VhdFormat.SECTOR_SIZE - 1);
        byte[] last;
        if (footerOffset == 0) {
            last = firstSector;
        } else {
            checkSinkSize(footerOffset);
            ByteBuffer first = chunk().clear().put(firstSector).flip();
            writeDetectingZeros(first, 0, false);
            copyData(
                    input,
                    VhdFormat.SECTOR_SIZE,
                    footerOffset - VhdFormat.SECTOR_SIZE,
                    VhdFormat.SECTOR_SIZE,
                    "fixed disk data");
            last = VhdImage.readTrailingFooter(input, footerOffset);
        }
        VhdFooter footer = VhdFooter.read(last, footerOffset);
        if (footer.diskType().orElseThrow() != VhdDiskType.FIXED) {
            throw CorruptImageException.at(
                    footerOffset + VhdFooter.DISK_TYPE,
                    "trailing footer disk type (no valid footer copy at offset 0)",
                    footer.diskTypeCode(),
                    "2 (fixed)");
        }
        VhdImage.fixed(footer, footerOffset, input.length());
        input.expectEnd();
        return new Result(VhdDiskType.FIXED, footerOffset, 0, bytesWritten, bytesZeroed);
    }

    private void readBlocks(VhdInput input, VhdImage image) throws IOException {
        VhdDynamicHeader header = image.header();
        int blockSize = header.blockSize();
        int bitmapSize = VhdFormat.bitmapSize(blockSize);
        long virtualSize = image.virtualSize();
        boolean differencing = image.diskType() == VhdDiskType.DIFFERENCING;
        byte[] bitmap = new byte[bitmapSize];
        int[] bat = image.bat();
        for (int index : image.blocksByOffset()) {
            long bitmapOffset = Integer.toUnsignedLong(bat[index]) * VhdFormat.SECTOR_SIZE;
            input.read(bitmapOffset, ByteBuffer.wrap(bitmap), "sector bitmap of block " + index);
            long blockStart = (long) index * blockSize;
            int sectors = (int) (Math.min(blockSize, virtualSize - blockStart) / VhdFormat.SECTOR_SIZE);
            long dataOffset = bitmapOffset + bitmapSize;
            // Runs of equal bits: set runs are read and written, unset runs are skipped (and zeroed).
            int sector = 0;
            while (sector < sectors) {
                boolean set = bit(bitmap, sector);
                int runEnd = sector + 1;
                while (runEnd < sectors && bit(bitmap, runEnd) == set) {
                    runEnd++;
                }
                long from = (long) sector * VhdFormat.SECTOR_SIZE;
                long to = (long) runEnd * VhdFormat.SECTOR_SIZE;
                if (set) {
                    copyData(input, dataOffset + from, to - from, blockStart + from, "data of block " + index);
                } else if (!differencing && !targetIsZero) {
                    zero(blockStart + from, to - from);
                }
                sector = runEnd;
            }
        }
        if (!differencing && !targetIsZero) {
            zeroAbsentBlocks(bat, blockSize, virtualSize);
        }
    }

    private void zeroAbsentBlocks(int[] bat, int blockSize, long virtualSize) throws IOException {
        long blocks = (virtualSize + blockSize - 1) / blockSize;
        long runStart = -1;
        for (long i = 0; i <= blocks; i++) {
            boolean absent = i < blocks && bat[(int) i] == VhdFormat.UNUSED_BAT_ENTRY;
            if (absent && runStart < 0) {
                runStart = i * blockSize;
            } else if (!absent && runStart >= 0) {
                zero(runStart, Math.min(i * blockSize, virtualSize) - runStart);
                runStart = -1;
            }
        }
    }

    /** MSB first: bit 7 of byte 0 is sector 0 (the spec's and blktap's order). */
    static boolean bit(byte[] bitmap, int sector) {
        return (bitmap[sector >>> 3] & (0x80 >>> (sector & 7))) != 0;
    }

    /**
     * Copies {@code length} bytes at image offset {@code from} to disk offset {@code to}, writing
     * runs that read as zeros (4 KiB granules) with {@code writeZeroes}. A file is read in place
     * through its mapping, and the sink may keep those slices instead of copying them.
     */
    private void copyData(VhdInput input, long from, long length, long to, String field) throws IOException {
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(CHUNK, length - done);
            ByteBuffer view = input instanceof VhdInput.Seekable file ? file.mapped(from + done, n, field) : null;
            if (view != null) {
                writeDetectingZeros(view, to + done, true);
            } else {
                ByteBuffer buffer = chunk();
                n = Math.min(buffer.capacity(), n);
                buffer.clear().limit(n);
                input.read(from + done, buffer, field);
                writeDetectingZeros(buffer.flip(), to + done, false);
            }
            done += n;
        }
    }

    /** The buffer reads go through, allocated on first use: a file read in place never needs it. */
    private ByteBuffer chunk() {
        if (chunk == null) {
            chunk = ByteBuffer.allocateDirect(chunkBytes);
        }
        return chunk;
    }

    /** Writes {@code data} at {@code diskOffset}, its zero granules as zero ranges. */
    private void writeDetectingZeros(ByteBuffer data, long diskOffset, boolean retained) throws IOException {
        MemorySegment segment = MemorySegment.ofBuffer(data);
        int n = data.remaining();
        int runStart = 0;
        boolean runZero = false;
        int position = 0;
        while (position < n) {
            int granule = (int) Math.min(ZERO_GRANULE - (diskOffset + position) % ZERO_GRANULE, n - position);
            boolean zero = MemorySegment.mismatch(segment, position, position + granule, ZEROS, 0, granule) == -1;
            if (position > runStart && zero != runZero) {
                emit(data, runStart, position, runZero, diskOffset, retained);
                runStart = position;
            }
            runZero = zero;
            position += granule;
        }
        if (n > runStart) {
            emit(data, runStart, n, runZero, diskOffset, retained);
        }
    }

    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[ZERO_GRANULE]);

    private void emit(ByteBuffer data, int start, int end, boolean zero, long diskOffset, boolean retained)
            throws IOException {
        if (zero) {
            if (!targetIsZero) {
                zero(diskOffset + start, end - start);
            }
        } else {
            ByteBuffer slice = data.slice(data.position() + start, end - start);
            bytesWritten += end - start;
            if (retained) {
                sink.writeRetained(diskOffset + start, slice);
            } else {
                sink.write(diskOffset + start, slice);
            }
        }
    }

    private void zero(long offset, long length) throws IOException {
        if (length > 0) {
            bytesZeroed += length;
            sink.writeZeroes(offset, length);
        }
    }
}
