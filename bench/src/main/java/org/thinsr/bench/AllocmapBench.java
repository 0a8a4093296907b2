package org.thinsr.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import javax.xml.XMLConstants;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.AllocationMaps;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinDelta;
import org.thinsr.allocmap.ThinDevice;
import org.thinsr.allocmap.ThinDumpParser;
import org.thinsr.allocmap.ThinMetadata;

/**
 * The allocmap benchmark, side by side with the real thin-provisioning-tools (run it with {@code
 * scripts/bench-allocmap}, which gives the JVM {@code -Xmx512m}).
 *
 * <ol>
 *   <li>makes pool metadata with {@code thin_restore}: a 1 M pool (two devices of 1 M non-contiguous
 *       single mappings each, the second a snapshot of the first with 10 % of its blocks remapped)
 *       and a 10 M pool (one device of 10 M mappings); cached under the work directory;
 *   <li>times the real {@code thin_dump} writing each to a file;
 *   <li>parses each dump with {@link ThinDumpParser} (best of 3) and, for comparison, with the JDK's
 *       StAX reader (DTDs off, attributes read as numbers, nothing stored);
 *   <li>merges the 1 M device with a 1 M-run origin map; computes the delta of the two 1 M
 *       devices.
 * </ol>
 */
public final class AllocmapBench {
    private static final int BLOCK_SIZE_SECTORS = 128;
    private static final long TOOL_TIMEOUT_MINUTES = 20;

    private AllocmapBench() {}

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args.length > 0 ? args[0] : "target/bench-allocmap");
        Files.createDirectories(work);
        System.out.printf(
                Locale.ROOT,
                "allocmap bench: %d cores, max heap %d MiB, %s%n",
                Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory() >> 20,
                Runtime.version());

        Path dump1m = prepare(work, "pool-1m", 1_000_000, true);
        Path dump10m = prepare(work, "pool-10m", 10_000_000, false);

        ThinMetadata pool1m = parseBench("1 M pool (2 devices x 1 M mappings)", dump1m);
        staxBench(dump1m);
        ThinDevice left = pool1m.device(1);
        ThinDevice right = pool1m.device(2);

        // merge: the 1 M device over a 1 M-run origin map
        long blockBytes = left.dataBlockSizeBytes();
        long volumeSize = 2_000_000L * blockBytes;
        AllocationMap origin = originMap(volumeSize, 1_000_000);
        ExtentSet thinMapped = left.mappedExtents();
        AllocationMap merged = null;
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long start = System.nanoTime();
            merged = AllocationMaps.mergeExternalOrigin(volumeSize, thinMapped, origin);
            best = Math.min(best, System.nanoTime() - start);
        }
        System.out.printf(
                Locale.ROOT,
                "merge: %d thin extents + %d origin runs -> %d runs in %.3f s%n",
                thinMapped.size(),
                origin.runCount(),
                merged.runCount(),
                best / 1e9);

        ThinDelta delta = null;
        best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long start = System.nanoTime();
            delta = ThinDelta.compute(left, right);
            best = Math.min(best, System.nanoTime() - start);
        }
        System.out.printf(
                Locale.ROOT,
                "delta: %d + %d mapping runs -> %d runs (%d changed extents) in %.3f s%n",
                left.mappingCount(),
                right.mappingCount(),
                delta.runCount(),
                delta.changedExtents().size(),
                best / 1e9);
        pool1m = null;
        left = null;
        right = null;
        merged = null;
        delta = null;
        thinMapped = null;
        origin = null;
        System.gc();

        ThinMetadata pool10m = parseBench("10 M pool (1 device x 10 M mappings)", dump10m);
        System.out.printf(
                Locale.ROOT,
                "10 M device: %d runs kept, heap used after GC %d MiB of max %d MiB%n",
                pool10m.device(1).mappingCount(),
                usedHeapAfterGc() >> 20,
                Runtime.getRuntime().maxMemory() >> 20);
        staxBench(dump10m);
    }

    private static long usedHeapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** An origin map of {@code runs} alternating DATA and HOLE runs over {@code size} bytes. */
    private static AllocationMap originMap(long size, int runs) {
        AllocationMap.Builder builder = AllocationMap.builder(size);
        long step = size / runs;
        for (int i = 0; i < runs; i++) {
            long end = i == runs - 1 ? size : (i + 1) * step;
            builder.add(builder.position(), end, i % 2 == 0 ? State.DATA : State.HOLE, Provenance.LOCAL);
        }
        return builder.build();
    }

    private static ThinMetadata parseBench(String label, Path dump) throws IOException {
        long bytes = Files.size(dump);
        ThinMetadata metadata = null;
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            metadata = null;
            System.gc();
            long start = System.nanoTime();
            metadata = ThinDumpParser.create().parse(dump);
            best = Math.min(best, System.nanoTime() - start);
        }
        long mappings = 0;
        for (ThinDevice device : metadata.devices()) {
            mappings += device.mappingCount();
        }
        System.out.printf(
                Locale.ROOT,
                "thinsr parse %s: %.1f MB in %.3f s = %.0f MB/s (%d runs)%n",
                label,
                bytes / 1e6,
                best / 1e9,
                bytes / 1e6 / (best / 1e9),
                mappings);
        return metadata;
    }

    /** The JDK's StAX reader over the same file, reading every attribute as a number. */
    private static void staxBench(Path dump) throws IOException, XMLStreamException {
        XMLInputFactory factory = XMLInputFactory.newFactory();
        factory.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        factory.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        factory.setProperty(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        long bytes = Files.size(dump);
        long start = System.nanoTime();
        long sum = 0;
        long elements = 0;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(dump), 1 << 16)) {
            XMLStreamReader reader = factory.createXMLStreamReader(in);
            while (reader.hasNext()) {
                if (reader.next() == XMLStreamConstants.START_ELEMENT) {
                    elements++;
                    for (int i = 0; i < reader.getAttributeCount(); i++) {
                        String value = reader.getAttributeValue(i);
                        if (!value.isEmpty() && Character.isDigit(value.charAt(0))) {
                            sum += Long.parseLong(value);
                        }
                    }
                }
            }
            reader.close();
        }
        long elapsed = System.nanoTime() - start;
        System.out.printf(
                Locale.ROOT,
                "JDK StAX scan (no storage): %.1f MB in %.3f s = %.0f MB/s (%d elements, checksum %d)%n",
                bytes / 1e6,
                elapsed / 1e9,
                bytes / 1e6 / (elapsed / 1e9),
                elements,
                sum);
    }

    /** Makes (once) the pool XML, its metadata via thin_restore, and times thin_dump writing it. */
    private static Path prepare(Path work, String name, int mappings, boolean withSnapshot)
            throws IOException, InterruptedException {
        Path xml = work.resolve(name + ".in.xml");
        Path metadata = work.resolve(name + ".meta");
        Path dump = work.resolve(name + ".thin_dump.xml");
        if (!Files.exists(metadata)) {
            long start = System.nanoTime();
            writePoolXml(xml, mappings, withSnapshot);
            System.out.printf(
                    Locale.ROOT, "%s: generated input XML in %.1f s%n", name, (System.nanoTime() - start) / 1e9);
            Path partial = work.resolve(name + ".meta.partial");
            try (RandomAccessFile file = new RandomAccessFile(partial.toFile(), "rw")) {
                file.setLength(Math.max(64L << 20, (long) mappings * (withSnapshot ? 200 : 100)));
            }
            start = System.nanoTime();
            run(List.of("thin_restore", "-i", xml.toString(), "-o", partial.toString()), null);
            System.out.printf(Locale.ROOT, "%s: thin_restore %.1f s%n", name, (System.nanoTime() - start) / 1e9);
            Files.move(partial, metadata);
            Files.delete(xml);
        }
        long start = System.nanoTime();
        run(List.of("thin_dump", metadata.toString()), dump);
        double seconds = (System.nanoTime() - start) / 1e9;
        long bytes = Files.size(dump);
        System.out.printf(
                Locale.ROOT,
                "%s: real thin_dump wrote %.1f MB in %.3f s = %.0f MB/s%n",
                name,
                bytes / 1e6,
                seconds,
                bytes / 1e6 / seconds);
        return dump;
    }

    /**
     * Device 1: {@code mappings} single mappings at even origin blocks, data blocks 3 apart (so none
     * coalesce). Device 2 (when asked): the same with every tenth block remapped to fresh data.
     */
    private static void writePoolXml(Path xml, int mappings, boolean withSnapshot) throws IOException {
        long fresh = 3L * mappings + 10;
        long nrDataBlocks = fresh + 3L * mappings / 10 + 10;
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(xml), 1 << 20)) {
            write(
                    out,
                    "<superblock uuid=\"\" time=\"1\" transaction=\"1\" flags=\"0\" version=\"2\" data_block_size=\""
                            + BLOCK_SIZE_SECTORS + "\" nr_data_blocks=\"" + nrDataBlocks + "\">\n");
            int devices = withSnapshot ? 2 : 1;
            for (int device = 1; device <= devices; device++) {
                write(
                        out,
                        "  <device dev_id=\"" + device + "\" mapped_blocks=\"" + mappings
                                + "\" transaction=\"0\" creation_time=\"0\" snap_time=\"1\">\n");
                StringBuilder line = new StringBuilder(96);
                long next = fresh;
                for (long i = 0; i < mappings; i++) {
                    long data = 3 * i;
                    if (device == 2 && i % 10 == 0) {
                        data = next;
                        next += 3;
                    }
                    line.setLength(0);
                    line.append("    <single_mapping origin_block=\"")
                            .append(2 * i)
                            .append("\" data_block=\"")
                            .append(data)
                            .append("\" time=\"0\"/>\n");
                    write(out, line);
                }
                write(out, "  </device>\n");
            }
            write(out, "</superblock>\n");
        }
    }

    private static void write(OutputStream out, CharSequence text) throws IOException {
        for (int i = 0; i < text.length(); i++) {
            out.write(text.charAt(i));
        }
    }

    private static void run(List<String> command, Path stdout) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(command));
        Path stderr = Files.createTempFile("bench", ".stderr");
        builder.redirectError(stderr.toFile());
        builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.redirectOutput(stdout != null ? stdout.toFile() : new File("/dev/null"));
        Process process = builder.start();
        if (!process.waitFor(TOOL_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new IOException(command + " timed out after " + TOOL_TIMEOUT_MINUTES + " min");
        }
        String errors = Files.readString(stderr, StandardCharsets.UTF_8);
        Files.delete(stderr);
        if (process.exitValue() != 0) {
            throw new IOException(command + " exited " + process.exitValue() + ": " + errors);
        }
    }
}
