package org.thinsr.vhdstream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Locale;
import org.thinsr.allocmap.ExtentSet;

/**
 * The Linux file calls Java does not offer, through the FFM API ({@code java.lang.foreign}):
 * {@code lseek(SEEK_DATA / SEEK_HOLE)} to find the allocated extents of a sparse file, {@code
 * fallocate(PUNCH_HOLE | KEEP_SIZE)} to deallocate a range, {@code
 * sync_file_range(SYNC_FILE_RANGE_WRITE)} to start the write-back of a file's dirty pages, and
 * {@code ftruncate} through a descriptor of our own.
 *
 * <p>Each call opens its own descriptor with {@code open(O_CLOEXEC)} and closes it before
 * returning, so nothing here holds native state between calls; the class is thread-safe. On a
 * platform other than Linux, or when libc lacks a symbol, {@link #available()} is false and
 * callers fall back (everything is DATA; zeros are written instead of punched).
 *
 * <p>Cost: {@link #dataExtents} makes two {@code lseek} calls per data extent, so it grows with
 * the number of allocated extents, never with the virtual size.
 */
final class FileExtents {
    private static final int O_RDONLY = 0;
    private static final int O_WRONLY = 1;
    private static final int O_CLOEXEC = 0x80000;
    private static final int SEEK_END = 2;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final int EINTR = 4;
    private static final int ENXIO = 6;
    private static final int EINVAL = 22;
    private static final int ENOTTY = 25;
    private static final int EOPNOTSUPP = 95;
    private static final int ENOSYS = 38;
    private static final int ESPIPE = 29;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;
    private static final int SYNC_FILE_RANGE_WRITE = 2;
    private static final int AT_FDCWD = -100;
    private static final int STATX_BLOCKS = 0x400;
    private static final int STATX_BYTES = 256;
    private static final long STATX_MASK_OFFSET = 0;
    private static final long STATX_BLOCKS_OFFSET = 48;

    private static final Native NATIVE = Native.load();

    private FileExtents() {}

    /** Whether the native calls are usable on this platform. */
    static boolean available() {
        return NATIVE != null;
    }

    /** What {@link #punchHole} did. */
    enum PunchResult {
        PUNCHED,
        UNSUPPORTED
    }

    /**
     * The DATA extents of {@code file} within {@code [0, size)} as reported by {@code
     * SEEK_DATA/SEEK_HOLE}. When the file system does not support them (EINVAL), or the platform
     * lacks the calls, the whole range is DATA (as vhd-tool does).
     *
     * @throws IOException when the file cannot be opened or a seek fails otherwise
     */
    static ExtentSet dataExtents(Path file, long size) throws IOException {
        if (size <= 0) {
            return ExtentSet.empty();
        }
        if (NATIVE == null) {
            return ExtentSet.of(0, size);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(NATIVE.captureLayout);
            int fd = NATIVE.open(arena, errno, file, O_RDONLY | O_CLOEXEC);
            try {
                ExtentSet.Builder builder = ExtentSet.builder();
                long position = 0;
                while (position < size) {
                    long data = NATIVE.lseek(errno, fd, position, SEEK_DATA);
                    if (data < 0) {
                        int error = NATIVE.errno(errno);
                        if (error == ENXIO) {
                            break; // no data at or after position
                        }
                        if (error == EINVAL && position == 0) {
                            return ExtentSet.of(0, size); // SEEK_DATA unsupported here
                        }
                        throw NATIVE.failure("lseek(SEEK_DATA) at " + position, file, error);
                    }
                    if (data >= size) {
                        break;
                    }
                    long hole = NATIVE.lseek(errno, fd, data, SEEK_HOLE);
                    if (hole < 0) {
                        int error = NATIVE.errno(errno);
                        if (error != ENXIO) {
                            throw NATIVE.failure("lseek(SEEK_HOLE) at " + data, file, error);
                        }
                        hole = size; // the file shrank under us: treat the rest as data
                    }
                    long end = Math.min(Math.max(hole, data + 1), size);
                    builder.add(data, end);
                    position = end;
                }
                return builder.build();
            } finally {
                NATIVE.close(fd);
            }
        }
    }

    /**
     * The size of a file or block device as {@code lseek(SEEK_END)} reports it (Java reports 0 for
     * block devices).
     */
    static long seekEnd(Path file) throws IOException {
        if (NATIVE == null) {
            throw new IOException("cannot find the size of " + file + ": native calls unavailable on this platform");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(NATIVE.captureLayout);
            int fd = NATIVE.open(arena, errno, file, O_RDONLY | O_CLOEXEC);
            try {
                long end = NATIVE.lseek(errno, fd, 0, SEEK_END);
                if (end < 0) {
                    throw NATIVE.failure("lseek(SEEK_END)", file, NATIVE.errno(errno));
                }
                return end;
            } finally {
                NATIVE.close(fd);
            }
        }
    }

    /**
     * Deallocates {@code [offset, offset + length)} of {@code file} without changing its size; the
     * range then reads as zeros. Returns {@link PunchResult#UNSUPPORTED} (and changes nothing) when
     * the file system or platform cannot punch holes, so the caller writes zeros instead.
     */
    static PunchResult punchHole(Path file, long offset, long length) throws IOException {
        if (length == 0) {
            return PunchResult.PUNCHED;
        }
        if (NATIVE == null || NATIVE.fallocate == null) {
            return PunchResult.UNSUPPORTED;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(NATIVE.captureLayout);
            int fd = NATIVE.open(arena, errno, file, O_WRONLY | O_CLOEXEC);
            try {
                while (true) {
                    int result =
                            NATIVE.fallocate(errno, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
                    if (result == 0) {
                        return PunchResult.PUNCHED;
                    }
                    int error = NATIVE.errno(errno);
                    if (error == EINTR) {
                        continue;
                    }
                    if (error == EOPNOTSUPP || error == ENOSYS || error == EINVAL || error == ENOTTY) {
                        return PunchResult.UNSUPPORTED;
                    }
                    throw NATIVE.failure("fallocate(PUNCH_HOLE) of [" + offset + ", +" + length + ")", file, error);
                }
            } finally {
                NATIVE.close(fd);
            }
        }
    }

    /**
     * Starts writing {@code file}'s dirty pages to disk without waiting for them ({@code
     * sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)} on a descriptor of our own: write-back works
     * on the file's page cache, whichever descriptor asks). A hint that makes a later {@code fsync}
     * shorter; false (and nothing done) where the platform or file system cannot.
     */
    static boolean startWriteback(Path file) throws IOException {
        if (NATIVE == null || NATIVE.syncFileRange == null) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(NATIVE.captureLayout);
            int fd = NATIVE.open(arena, errno, file, O_RDONLY | O_CLOEXEC);
            try {
                int result;
                try {
                    result = (int) NATIVE.syncFileRange.invokeExact(errno, fd, 0L, 0L, SYNC_FILE_RANGE_WRITE);
                } catch (Throwable e) {
                    throw new IOException("sync_file_range failed: " + e, e);
                }
                if (result == 0) {
                    return true;
                }
                int error = NATIVE.errno(errno);
                if (error == EINTR || error == EINVAL || error == ENOSYS || error == EOPNOTSUPP || error == ESPIPE) {
                    return false;
                }
                throw NATIVE.failure("sync_file_range(SYNC_FILE_RANGE_WRITE)", file, error);
            } finally {
                NATIVE.close(fd);
            }
        }
    }

    /**
     * The bytes {@code file} occupies on its file system: {@code stx_blocks × 512} of {@code statx}
     * (what {@code du} and {@code qemu-img info}'s {@code actual-size} report), whose layout is the
     * same on every architecture. Empty where the platform or C library has no {@code statx}.
     */
    static java.util.OptionalLong allocatedBytes(Path file) throws IOException {
        if (NATIVE == null || NATIVE.statx == null) {
            return java.util.OptionalLong.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(NATIVE.captureLayout);
            MemorySegment path = arena.allocateFrom(file.toString());
            MemorySegment buffer = arena.allocate(STATX_BYTES, 8);
            int result;
            try {
                result = (int) NATIVE.statx.invokeExact(errno, AT_FDCWD, path, 0, STATX_BLOCKS, buffer);
            } catch (Throwable e) {
                throw new IOException("statx(" + file + ") failed: " + e, e);
            }
            if (result != 0) {
                int error = NATIVE.errno(errno);
                if (error == ENOSYS || error == EINVAL) {
                    return java.util.OptionalLong.empty();
                }
                throw NATIVE.failure("statx", file, error);
            }
            if ((buffer.get(JAVA_INT, STATX_MASK_OFFSET) & STATX_BLOCKS) == 0) {
                return java.util.OptionalLong.empty();
            }
            return java.util.OptionalLong.of(buffer.get(JAVA_LONG, STATX_BLOCKS_OFFSET) * 512);
        }
    }

    /** The bound libc functions; {@code null} when unavailable. */
    private static final class Native {
        final StructLayout captureLayout;
        final VarHandle errnoHandle;
        final MethodHandle open;
        final MethodHandle lseek;
        final MethodHandle close;
        final MethodHandle strerror;
        final MethodHandle fallocate;
        final MethodHandle syncFileRange;
        final MethodHandle statx;

        private Native(
                StructLayout captureLayout,
                MethodHandle open,
                MethodHandle lseek,
                MethodHandle close,
                MethodHandle strerror,
                MethodHandle fallocate,
                MethodHandle syncFileRange,
                MethodHandle statx) {
            this.captureLayout = captureLayout;
            this.errnoHandle = captureLayout.varHandle(PathElement.groupElement("errno"));
            this.open = open;
            this.lseek = lseek;
            this.close = close;
            this.strerror = strerror;
            this.fallocate = fallocate;
            this.syncFileRange = syncFileRange;
            this.statx = statx;
        }

        @SuppressWarnings("restricted") // the whole point of this class; the jar enables native access
        static Native load() {
            if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
                return null;
            }
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                Linker.Option errno = Linker.Option.captureCallState("errno");
                MethodHandle open = linker.downcallHandle(
                        libc.find("open").orElseThrow(),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                        errno,
                        Linker.Option.firstVariadicArg(2));
                MethodHandle lseek = linker.downcallHandle(
                        libc.find("lseek").orElseThrow(),
                        FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT),
                        errno);
                MethodHandle close = linker.downcallHandle(
                        libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
                MethodHandle strerror = linker.downcallHandle(
                        libc.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));
                MethodHandle fallocate = optional(
                        linker,
                        libc,
                        "fallocate",
                        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
                        errno);
                MethodHandle syncFileRange = optional(
                        linker,
                        libc,
                        "sync_file_range",
                        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT),
                        errno);
                MethodHandle statx = optional(
                        linker,
                        libc,
                        "statx",
                        FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS),
                        errno);
                return new Native(
                        Linker.Option.captureStateLayout(),
                        open,
                        lseek,
                        close,
                        strerror,
                        fallocate,
                        syncFileRange,
                        statx);
            } catch (RuntimeException | LinkageError e) {
                return null;
            }
        }

        /** A libc function that may be missing (older or other C libraries): null then. */
        @SuppressWarnings("restricted")
        private static MethodHandle optional(
                Linker linker, SymbolLookup libc, String name, FunctionDescriptor descriptor, Linker.Option errno) {
            return libc.find(name)
                    .map(symbol -> linker.downcallHandle(symbol, descriptor, errno))
                    .orElse(null);
        }

        int errno(MemorySegment state) {
            return (int) errnoHandle.get(state, 0L);
        }

        int open(Arena arena, MemorySegment state, Path file, int flags) throws IOException {
            MemorySegment path = arena.allocateFrom(file.toString());
            int fd;
            try {
                fd = (int) open.invokeExact(state, path, flags, 0);
            } catch (Throwable e) {
                throw new IOException("open(" + file + ") failed: " + e, e);
            }
            if (fd < 0) {
                throw failure("open", file, errno(state));
            }
            return fd;
        }

        long lseek(MemorySegment state, int fd, long offset, int whence) throws IOException {
            try {
                return (long) lseek.invokeExact(state, fd, offset, whence);
            } catch (Throwable e) {
                throw new IOException("lseek failed: " + e, e);
            }
        }

        int fallocate(MemorySegment state, int fd, int mode, long offset, long length) throws IOException {
            try {
                return (int) fallocate.invokeExact(state, fd, mode, offset, length);
            } catch (Throwable e) {
                throw new IOException("fallocate failed: " + e, e);
            }
        }

        void close(int fd) throws IOException {
            int result;
            try {
                result = (int) close.invokeExact(fd);
            } catch (Throwable e) {
                throw new IOException("close failed: " + e, e);
            }
            if (result != 0) {
                throw new IOException("close(" + fd + ") failed");
            }
        }

        @SuppressWarnings("restricted") // strerror returns a NUL-terminated C string
        IOException failure(String call, Path file, int error) {
            String text;
            try {
                MemorySegment message = (MemorySegment) strerror.invokeExact(error);
                text = message.reinterpret(1024).getString(0);
            } catch (Throwable e) {
                text = "errno " + error;
            }
            return new IOException(call + " on " + file + " failed: " + text + " (errno " + error + ")");
        }
    }
}
