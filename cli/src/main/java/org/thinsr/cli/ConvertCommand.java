package org.thinsr.cli;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.QemuImgMapParser;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.allocmap.WriteBehindSink;
import org.thinsr.vhdstream.ChunkedDecoder;
import org.thinsr.vhdstream.ChunkedEncoder;
import org.thinsr.vhdstream.Compression;
import org.thinsr.vhdstream.CorruptImageException;
import org.thinsr.vhdstream.EarlyWriteback;
import org.thinsr.vhdstream.RawDelta;
import org.thinsr.vhdstream.RawFileSink;
import org.thinsr.vhdstream.RawFileSource;
import org.thinsr.vhdstream.RawWriter;
import org.thinsr.vhdstream.RawZeroScan;
import org.thinsr.vhdstream.TarChecksum;
import org.thinsr.vhdstream.TarPlan;
import org.thinsr.vhdstream.TarReader;
import org.thinsr.vhdstream.TarWriter;
import org.thinsr.vhdstream.VhdChain;
import org.thinsr.vhdstream.VhdDiskType;
import org.thinsr.vhdstream.VhdFooter;
import org.thinsr.vhdstream.VhdInfo;
import org.thinsr.vhdstream.VhdLayout;
import org.thinsr.vhdstream.VhdOptions;
import org.thinsr.vhdstream.VhdParent;
import org.thinsr.vhdstream.VhdParentLocator;
import org.thinsr.vhdstream.VhdReader;
import org.thinsr.vhdstream.VhdWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code thinsr convert}: one disk image format to another, reading and writing only allocated
 * data. Inputs that cannot be read by position (streams, compressed files, VHD, qcow2, tar,
 * chunked) are first unpacked into a sparse temporary raw file next to the output; the output is
 * written to a temporary name and renamed into place only when complete.
 */
@Command(
        name = "convert",
        mixinStandardHelpOptions = true,
        description = "Convert a disk image between raw, VHD, qcow2 (input only), XVA tar and xapi chunked streams,"
                + " sparsely: only allocated data is read and written.")
final class ConvertCommand implements Callable<Integer> {
    /** Granularity of the zero scan and of the delta comparison. */
    static final int SCAN_GRANULARITY = 64 << 10;
    /** The largest disk a stream of unknown size may describe (the format limit of ext4 files). */
    static final long MAX_STREAM_DISK = 16L << 40;

    static final int WRITES_IN_FLIGHT = 4;

    enum From {
        RAW,
        VHD,
        QCOW2,
        TAR,
        CHUNKED,
        AUTO
    }

    enum To {
        RAW,
        VHD,
        VHD_FIXED,
        TAR,
        CHUNKED
    }

    @Spec
    CommandSpec spec;

    @Option(
            names = "--from",
            paramLabel = "FORMAT",
            description = "Input format: raw, vhd, qcow2, tar, chunked or auto (default: ${DEFAULT-VALUE}; detects"
                    + " gzip/zstd, VHD, qcow2 and tar by their magic, anything else is raw).",
            defaultValue = "auto",
            converter = FromConverter.class)
    From from;

    @Option(
            names = "--to",
            required = true,
            paramLabel = "FORMAT",
            description = "Output format: raw, vhd (dynamic), vhd-fixed, tar (XVA disk chunks) or chunked.",
            converter = ToConverter.class)
    To to;

    @Option(
            names = "--base",
            paramLabel = "BASE",
            description = "Write only what differs from BASE (a raw, VHD or qcow2 file): a differencing VHD"
                    + " (BASE must then be a VHD), or the changed chunks of a tar or chunked stream.")
    Path base;

    @Option(
            names = "--compress",
            paramLabel = "ALGORITHM",
            description = "Compress the output with gzip or zstd.",
            converter = CompressionConverter.class)
    Compression compress;

    @Option(names = "--progress", description = "Show a progress bar on stderr when it is a terminal.")
    boolean progress;

    @Option(
            names = "--size",
            paramLabel = "BYTES",
            description = "Disk size for a chunked input (default: the end of its furthest chunk); checked for tar.")
    Long size;

    @Option(
            names = "--tar-prefix",
            paramLabel = "PREFIX",
            defaultValue = "vdi/",
            description = "Entry-name prefix of tar chunks (default: ${DEFAULT-VALUE}; a disk of a VM export is"
                    + " Ref:N/, its other entries are skipped).")
    String tarPrefix;

    @Option(
            names = "--tar-checksum",
            paramLabel = "KIND",
            defaultValue = "xxhash",
            description = "Checksum companion of tar chunks: xxhash (default) or sha1 (legacy .checksum).")
    String tarChecksum;

    @Option(
            names = "--no-zero-scan",
            description = "Do not read allocated data to find all-zero blocks; copy it as it is.")
    boolean noZeroScan;

    @Parameters(index = "0", paramLabel = "INPUT", description = "Input file, or - for standard input.")
    String input;

    @Parameters(index = "1", paramLabel = "OUTPUT", description = "Output file, or - for standard output.")
    String output;

    private final List<Path> temporaries = new ArrayList<>();

    /**
     * For raw file output without compression or base: the output's temporary name, into which an
     * input that must be unpacked anyway (tar, chunked, VHD, qcow2, a stream) is unpacked directly,
     * saving a second copy.
     */
    private Path directRaw;

    private boolean directRawUsed;

    @Override
    public Integer call() throws IOException {
        try {
            validate();
            Path workDir = workDirectory();
            if (to == To.RAW && !output.equals("-") && compress == null && base == null) {
                directRaw = outputTemporary(Path.of(output));
            }
            Disk disk = open(from, input, workDir, size);
            if (directRawUsed) {
                disk.source().close();
                try (FileChannel channel = FileChannel.open(directRaw, StandardOpenOption.WRITE)) {
                    channel.force(true);
                }
                Files.move(
                        directRaw,
                        Path.of(output),
                        StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE);
                temporaries.remove(directRaw);
                return 0;
            }
            try (BlockSource source = disk.source()) {
                AllocationMap map = disk.map();
                if (base != null) {
                    Disk baseDisk = open(From.AUTO, base.toString(), workDir, null);
                    try (BlockSource baseSource = baseDisk.source()) {
                        map = RawDelta.changed(map, source, baseDisk.map(), baseSource, SCAN_GRANULARITY);
                    }
                } else if (!noZeroScan && to != To.RAW && to != To.VHD && to != To.VHD_FIXED) {
                    // VHD: the plan scans whole 2 MiB blocks itself (one probe a block, not one a granule)
                    map = RawZeroScan.refine(map, source, SCAN_GRANULARITY);
                }
                write(map, source);
            }
            return 0;
        } finally {
            for (Path temporary : temporaries) {
                Files.deleteIfExists(temporary);
            }
        }
    }

    private void validate() {
        if (base != null && (to == To.RAW || to == To.VHD_FIXED)) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "--base makes a delta, which --to " + label(to) + " cannot carry; use vhd, tar or chunked");
        }
        if (input.equals("-") && from == From.QCOW2) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "qcow2 input must be a file, not standard input");
        }
        if (size != null && size < 0) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "--size is negative: " + size);
        }
        tarChecksum();
    }

    private TarChecksum tarChecksum() {
        return switch (tarChecksum) {
            case "xxhash" -> TarChecksum.XXHASH;
            case "sha1" -> TarChecksum.SHA1;
            default ->
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "--tar-checksum: actual " + tarChecksum + ", expected xxhash or sha1");
        };
    }

    /** Where temporary files go: beside the output (same file system), else the system temp dir. */
    private Path workDirectory() {
        if (!output.equals("-")) {
            Path parent = Path.of(output).toAbsolutePath().getParent();
            if (parent != null && Files.isDirectory(parent)) {
                return parent;
            }
        }
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    /** Where an input is unpacked: the output itself when {@link #directRaw} allows, else scratch. */
    private Path spoolFile(Path workDir) throws IOException {
        if (directRaw != null && !directRawUsed) {
            directRawUsed = true;
            return directRaw;
        }
        return temporary(workDir, ".raw");
    }

    private Path temporary(Path dir, String suffix) throws IOException {
        Path file = Files.createTempFile(dir, ".thinsr-convert-", suffix);
        temporaries.add(file);
        return file;
    }

    /**
     * The temporary name the output is written under before the rename: beside it, created with
     * the default permissions (so the umask applies, unlike a private scratch file).
     */
    private Path outputTemporary(Path target) throws IOException {
        Path file = directoryOf(target)
                .resolve("." + target.getFileName() + ".thinsr-" + Long.toUnsignedString(System.nanoTime(), 36));
        Files.createFile(file);
        temporaries.add(file);
        return file;
    }

    /**
     * A readable disk: its allocation map and a source to read it by position. The map is null
     * only for an input unpacked into the output itself ({@link #directRaw}), which is not read.
     */
    record Disk(AllocationMap map, BlockSource source) {}

    /** A file an input was unpacked into; no map when it is already the output. */
    private Disk openUnpacked(Path file) throws IOException {
        if (file.equals(directRaw)) {
            return new Disk(null, RawFileSource.open(file)); // SEEK_DATA of the output would be wasted
        }
        return openRaw(file);
    }

    private Disk open(From format, String name, Path workDir, Long expectedSize) throws IOException {
        boolean stdin = name.equals("-");
        Path path = stdin ? null : Path.of(name);
        if (path != null && !Files.exists(path)) {
            throw new java.nio.file.NoSuchFileException(name);
        }
        if (path != null && (format == From.RAW || format == From.QCOW2)) {
            return format == From.RAW ? openRaw(path) : openQcow2(path, workDir);
        }
        BufferedInputStream buffered = new BufferedInputStream(stdin ? System.in : Files.newInputStream(path), 1 << 16);
        Compression compression = Compression.detect(buffered);
        if (compression == Compression.NONE && format == From.RAW && stdin) {
            return spoolRaw(buffered, workDir);
        }
        BufferedInputStream plain = compression == Compression.NONE
                ? buffered
                : new BufferedInputStream(compression.decompress(buffered), 1 << 16);
        try (InputStream in = plain) {
            From resolved = format == From.AUTO ? detect(plain) : format;
            if (resolved == From.AUTO) {
                throw new IllegalStateException("detect returned AUTO");
            }
            return switch (resolved) {
                case RAW -> compression == Compression.NONE && path != null ? openRaw(path) : spoolRaw(in, workDir);
                case QCOW2 -> {
                    if (compression != Compression.NONE || path == null) {
                        throw new ThinsrException(
                                ErrorCode.UNSUPPORTED, name + ": qcow2 input must be an uncompressed file");
                    }
                    yield openQcow2(path, workDir);
                }
                case VHD -> openVhd(in, compression == Compression.NONE ? path : null, workDir);
                case TAR -> openTar(in, workDir, expectedSize);
                case CHUNKED -> openChunked(in, workDir, expectedSize);
                case AUTO -> throw new IllegalStateException("unreachable");
            };
        }
    }

    /** The format of a stream from its first 512 bytes (without consuming them). */
    static From detect(BufferedInputStream in) throws IOException {
        byte[] head = new byte[512];
        in.mark(head.length);
        int read = in.readNBytes(head, 0, head.length);
        in.reset();
        if (read >= 8 && new String(head, 0, 8, StandardCharsets.ISO_8859_1).equals("conectix")) {
            return From.VHD;
        }
        if (read >= 4 && head[0] == 'Q' && head[1] == 'F' && head[2] == 'I' && (head[3] & 0xff) == 0xfb) {
            return From.QCOW2;
        }
        if (read == 512 && new String(head, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar")) {
            return From.TAR;
        }
        return From.RAW;
    }

    private static Disk openRaw(Path path) throws IOException {
        RawFileSource source = RawFileSource.open(path);
        try {
            return new Disk(source.allocationMap(), source);
        } catch (IOException | RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** A raw stream into a sparse temporary file: all-zero 4 KiB blocks become holes. */
    private Disk spoolRaw(InputStream in, Path workDir) throws IOException {
        Path file = spoolFile(workDir);
        long total = 0;
        try (RawFileSink sink = RawFileSink.createGrowable(file, MAX_STREAM_DISK)) {
            byte[] buffer = new byte[1 << 20];
            int read;
            while ((read = in.readNBytes(buffer, 0, buffer.length)) > 0) {
                for (int block = 0; block < read; block += 4096) {
                    int end = Math.min(read, block + 4096);
                    if (!isZero(buffer, block, end)) {
                        sink.write(total + block, ByteBuffer.wrap(buffer, block, end - block));
                    }
                }
                total += read;
                if (total > MAX_STREAM_DISK) {
                    throw new ThinsrException(
                            ErrorCode.UNSUPPORTED, "raw input is larger than " + MAX_STREAM_DISK + " bytes");
                }
            }
            sink.resize(total);
        }
        return openUnpacked(file);
    }

    private static boolean isZero(byte[] buffer, int from, int to) {
        for (int i = from; i < to; i++) {
            if (buffer[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * qcow2: the allocation map from {@code qemu-img map --output=json}, the data from {@code
     * qemu-img convert -O raw} into a sparse temporary file (a first version; see the man page).
     */
    private Disk openQcow2(Path path, Path workDir) throws IOException {
        byte[] json = ConvertTools.run(
                List.of("qemu-img", "map", "--output=json", "-f", "qcow2", path.toString()),
                Duration.ofMinutes(10),
                256L << 20); // about 2.5 million extents of JSON; more is refused, never buffered
        AllocationMap map = QemuImgMapParser.parse(new java.io.ByteArrayInputStream(json), "qemu-img map " + path);
        Path raw = spoolFile(workDir);
        ConvertTools.run(
                List.of("qemu-img", "convert", "-f", "qcow2", "-O", "raw", path.toString(), raw.toString()),
                Duration.ofHours(24),
                1 << 20);
        RawFileSource source = RawFileSource.open(raw);
        if (source.size() != map.virtualSize()) {
            source.close();
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED,
                    "qemu-img map says " + map.virtualSize() + " bytes but qemu-img convert wrote " + source.size());
        }
        return new Disk(map, source);
    }

    /**
     * VHD: imported by {@link VhdReader} into a sparse temporary raw file (a stream is first copied
     * to a temporary file, since the footer sits at its end). A differencing VHD file is read with
     * its ancestors ({@link VhdChain}); one from a stream has no path to find them by and is refused.
     */
    private Disk openVhd(InputStream in, Path path, Path workDir) throws IOException {
        Path vhd = path;
        if (vhd == null) {
            vhd = temporary(workDir, ".vhd");
            try (OutputStream out = Files.newOutputStream(vhd)) {
                in.transferTo(out);
            }
        }
        VhdFooter footer;
        try (FileChannel channel = FileChannel.open(vhd, StandardOpenOption.READ)) {
            footer = VhdInfo.readFooter(channel);
        }
        if (path == null && footer.diskType().orElse(null) == VhdDiskType.DIFFERENCING) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "a differencing VHD read from a pipe or a compressed file cannot reach its parent:"
                            + " give the uncompressed file's path");
        }
        Path raw = spoolFile(workDir);
        // sized up front when the footer is plausible (no file growing write by write); the reader
        // checks the footer properly and the size is set to what it reports
        long size = footer.currentSize();
        // several writes in flight (as qemu-img keeps 8): a write that waits for page reclaim or the
        // disk no longer holds up reading the next block
        ExecutorService writers = Executors.newFixedThreadPool(WRITES_IN_FLIGHT, runnable -> {
            Thread thread = new Thread(runnable, "convert-write");
            thread.setDaemon(true);
            return thread;
        });
        try (RawFileSink sink = size >= 0 && size <= MAX_STREAM_DISK
                        ? RawFileSink.create(raw, size)
                        : RawFileSink.createGrowable(raw, MAX_STREAM_DISK);
                WriteBehindSink behind = new WriteBehindSink(sink, WRITES_IN_FLIGHT, writers, false)) {
            VhdReader.Result result = VhdChain.readFile(vhd, behind, true);
            if (result.virtualSize() != sink.size()) {
                sink.resize(result.virtualSize());
            }
        } finally {
            writers.shutdownNow();
        }
        return openUnpacked(raw);
    }

    /** The parent of a differencing VHD made against {@code base}, which must be a VHD file. */
    private static VhdParent vhdParent(Path base) throws IOException {
        VhdFooter footer;
        try (FileChannel channel = FileChannel.open(base, StandardOpenOption.READ)) {
            footer = VhdInfo.readFooter(channel);
        } catch (CorruptImageException e) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "--to vhd --base needs a VHD base to be the parent of the differencing disk; " + base + ": "
                            + e.getMessage(),
                    e);
        }
        Instant timestamp = Instant.ofEpochSecond(VHD_EPOCH_SECONDS + Integer.toUnsignedLong(footer.timestamp()));
        String name = base.getFileName().toString();
        return new VhdParent(
                footer.uniqueId(),
                timestamp,
                name,
                List.of(
                        new VhdParent.Locator(VhdParentLocator.PLATFORM_W2RU, ".\\" + name),
                        new VhdParent.Locator(
                                VhdParentLocator.PLATFORM_W2KU,
                                base.toAbsolutePath().toString())));
    }

    /** 2000-01-01T00:00:00Z, the VHD time origin, in Unix seconds. */
    static final long VHD_EPOCH_SECONDS = 946_684_800L;

    private Disk openTar(InputStream in, Path workDir, Long expectedSize) throws IOException {
        Path file = spoolFile(workDir);
        try (RawFileSink sink = expectedSize != null
                ? RawFileSink.create(file, expectedSize)
                : RawFileSink.createGrowable(file, MAX_STREAM_DISK)) {
            long covered = new TarReader(tarPrefix, true, TarReader.Target.ZEROED, TarReader.DEFAULT_MAX_CHUNK_SIZE)
                    .skippingOtherEntries()
                    .read(in, sink, expectedSize != null);
            if (expectedSize == null) {
                sink.resize(covered);
            }
        }
        return openUnpacked(file);
    }

    private Disk openChunked(InputStream in, Path workDir, Long expectedSize) throws IOException {
        Path file = spoolFile(workDir);
        try (RawFileSink sink = expectedSize != null
                ? RawFileSink.create(file, expectedSize)
                : RawFileSink.createGrowable(file, MAX_STREAM_DISK)) {
            long end = new ChunkedDecoder().decode(in, sink);
            if (expectedSize == null) {
                sink.resize(end);
            }
        }
        return openUnpacked(file);
    }

    private void write(AllocationMap map, BlockSource source) throws IOException {
        boolean toStdout = output.equals("-");
        Compression compression = compress == null ? Compression.NONE : compress;
        LongConsumer bar = bytes -> {};
        ConvertProgress progressBar = null;
        if (to == To.RAW && !toStdout && compression == Compression.NONE) {
            RawWriter writer = new RawWriter(map, source);
            if (ConvertProgress.wanted(progress)) {
                progressBar = new ConvertProgress(spec.commandLine().getErr(), writer.length());
                writer.progress(progressBar);
            }
            Path target = Path.of(output);
            Path temporary = directRaw != null ? directRaw : outputTemporary(target);
            writer.writeToFile(temporary, !noZeroScan);
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            temporaries.remove(temporary);
            finish(progressBar);
            return;
        }
        if ((to == To.VHD || to == To.VHD_FIXED) && !toStdout && compression == Compression.NONE) {
            // A file: VhdWriter copies the blocks file to file in the kernel when the source is a raw file.
            VhdLayout layout = vhdLayout(map, source);
            VhdWriter writer = new VhdWriter(layout, source);
            if (ConvertProgress.wanted(progress)) {
                progressBar = new ConvertProgress(spec.commandLine().getErr(), layout.length());
                writer.progress(progressBar);
            }
            Path target = Path.of(output);
            Path temporary = outputTemporary(target);
            try (EarlyWriteback _ = EarlyWriteback.start(temporary);
                    FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE)) {
                writer.write(channel);
                channel.force(false); // on disk before the rename makes it visible
            }
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            temporaries.remove(temporary);
            finish(progressBar);
            return;
        }
        StreamWriter writer = streamWriter(map, source);
        if (ConvertProgress.wanted(progress)) {
            progressBar = new ConvertProgress(spec.commandLine().getErr(), writer.length());
            bar = progressBar;
        }
        if (toStdout) {
            OutputStream stdout = new FilterOutputStream(new FileOutputStream(FileDescriptor.out)) {
                @Override
                public void write(byte[] bytes, int offset, int length) throws IOException {
                    out.write(bytes, offset, length);
                }

                @Override
                public void close() throws IOException {
                    flush(); // standard output stays open
                }
            };
            try (OutputStream out = compression.compress(new BufferedOutputStream(stdout, 1 << 20))) {
                writer.writeTo(out, bar);
            }
        } else {
            Path target = Path.of(output);
            Path temporary = outputTemporary(target);
            FileOutputStream file = new FileOutputStream(temporary.toFile());
            OutputStream durable = new FilterOutputStream(file) {
                @Override
                public void write(byte[] bytes, int offset, int length) throws IOException {
                    out.write(bytes, offset, length);
                }

                @Override
                public void close() throws IOException {
                    try (file) {
                        flush();
                        file.getChannel().force(false); // on disk before the rename makes it visible
                    }
                }
            };
            try (OutputStream out = compression.compress(new BufferedOutputStream(durable, 1 << 20))) {
                writer.writeTo(out, bar);
            }
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            temporaries.remove(temporary);
        }
        finish(progressBar);
    }

    private static void finish(ConvertProgress progressBar) {
        if (progressBar != null) {
            progressBar.finish();
        }
    }

    private static Path directoryOf(Path target) {
        Path parent = target.toAbsolutePath().getParent();
        return parent == null ? Path.of(".") : parent;
    }

    /** One of the forward-only writers, with its exact length. */
    interface StreamWriter {
        long length();

        void writeTo(OutputStream out, LongConsumer progress) throws IOException;
    }

    private StreamWriter streamWriter(AllocationMap map, BlockSource source) throws IOException {
        return switch (to) {
            case RAW -> {
                RawWriter writer = new RawWriter(map, source);
                yield new StreamWriter() {
                    @Override
                    public long length() {
                        return writer.length();
                    }

                    @Override
                    public void writeTo(OutputStream out, LongConsumer progress) throws IOException {
                        writer.progress(progress).writeTo(out);
                    }
                };
            }
            case TAR -> {
                long now = Instant.now().getEpochSecond();
                TarPlan plan = base == null
                        ? TarPlan.plan(map, tarPrefix, tarChecksum(), TarPlan.DEFAULT_CHUNK_SIZE, now)
                        : TarPlan.planDelta(map, tarPrefix, tarChecksum(), TarPlan.DEFAULT_CHUNK_SIZE, now);
                TarWriter writer = new TarWriter(plan, source);
                yield new StreamWriter() {
                    @Override
                    public long length() {
                        return writer.length();
                    }

                    @Override
                    public void writeTo(OutputStream out, LongConsumer progress) throws IOException {
                        writer.progress(progress).writeTo(out);
                    }
                };
            }
            case CHUNKED -> {
                ChunkedEncoder writer = new ChunkedEncoder(map, source);
                yield new StreamWriter() {
                    @Override
                    public long length() {
                        return writer.length();
                    }

                    @Override
                    public void writeTo(OutputStream out, LongConsumer progress) throws IOException {
                        writer.progress(progress).writeTo(out);
                    }
                };
            }
            case VHD, VHD_FIXED -> {
                VhdLayout layout = vhdLayout(map, source);
                VhdWriter writer = new VhdWriter(layout, source);
                yield new StreamWriter() {
                    @Override
                    public long length() {
                        return layout.length();
                    }

                    @Override
                    public void writeTo(OutputStream out, LongConsumer progress) throws IOException {
                        writer.write(new StreamChannel(out, progress), 0, layout.length());
                    }
                };
            }
        };
    }

    /** The plan of a VHD output; a dynamic one leaves out blocks that read as zeros (unless --no-zero-scan). */
    private VhdLayout vhdLayout(AllocationMap map, BlockSource source) throws IOException {
        Instant now = Instant.now();
        VhdOptions options;
        if (to == To.VHD_FIXED) {
            options = VhdOptions.fixed(now);
        } else if (base != null) {
            options = VhdOptions.differencing(vhdParent(base), now);
        } else {
            options = VhdOptions.dynamic(now).withSkipZeroBlocks(!noZeroScan);
        }
        return VhdLayout.plan(map, options, source);
    }

    /**
     * A channel over an output stream that copies direct buffers through one 1 MiB array
     * ({@code Channels.newChannel} would use 8 KiB pieces) and reports progress.
     */
    static final class StreamChannel implements java.nio.channels.WritableByteChannel {
        private final OutputStream out;
        private final LongConsumer progress;
        private final byte[] chunk = new byte[1 << 20];
        private long written;

        StreamChannel(OutputStream out, LongConsumer progress) {
            this.out = out;
            this.progress = progress;
        }

        @Override
        public int write(ByteBuffer source) throws IOException {
            int count = source.remaining();
            if (source.hasArray()) {
                out.write(source.array(), source.arrayOffset() + source.position(), count);
                source.position(source.limit());
            } else {
                while (source.hasRemaining()) {
                    int piece = Math.min(chunk.length, source.remaining());
                    source.get(chunk, 0, piece);
                    out.write(chunk, 0, piece);
                }
            }
            written += count;
            progress.accept(written);
            return count;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
            // the caller closes the stream
        }
    }

    static String label(To format) {
        return format.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /** Accepts the lower-case names, as the man page spells them. */
    static final class FromConverter implements picocli.CommandLine.ITypeConverter<From> {
        @Override
        public From convert(String value) {
            return Arrays.stream(From.values())
                    .filter(format ->
                            format.name().toLowerCase(java.util.Locale.ROOT).equals(value))
                    .findFirst()
                    .orElseThrow(() -> new picocli.CommandLine.TypeConversionException(
                            "unknown input format '" + value + "', expected raw, vhd, qcow2, tar, chunked or auto"));
        }
    }

    static final class ToConverter implements picocli.CommandLine.ITypeConverter<To> {
        @Override
        public To convert(String value) {
            return Arrays.stream(To.values())
                    .filter(format -> label(format).equals(value))
                    .findFirst()
                    .orElseThrow(() -> new picocli.CommandLine.TypeConversionException(
                            "unknown output format '" + value + "', expected raw, vhd, vhd-fixed, tar or chunked"));
        }
    }

    static final class CompressionConverter implements picocli.CommandLine.ITypeConverter<Compression> {
        @Override
        public Compression convert(String value) {
            if (value.equals("none")) {
                throw new picocli.CommandLine.TypeConversionException("--compress takes gzip or zstd");
            }
            try {
                return Compression.ofLabel(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
