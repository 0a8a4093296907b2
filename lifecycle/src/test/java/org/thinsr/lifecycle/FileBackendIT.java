package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.qmpclient.QmpClient;

/** The {@link StorageBackendContract} on the {@link FileBackend} with real qemu-img and qemu-storage-daemon. */
class FileBackendIT extends StorageBackendContract {
    private static final int BLOCK = 64 << 10;

    @Override
    protected StorageBackend newBackend(Path workDir) {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-storage-daemon", "qemu-system-common");
        return new FileBackend(CommandRunner.PROCESSES, workDir.resolve("run"));
    }

    @Override
    protected SrConfig newSrConfig(Path workDir) {
        return SrConfig.of("path", workDir.resolve("sr").toString());
    }

    @Test
    void thinAttachedVolumeIsSnapshottedLiveTwiceWithoutDroppingItsNbdClients() throws Exception {
        backend.createVolume(sr, "vm", 64 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        assertLiveSnapshotsKeepTheWriterAndPointInTimeContent("vm", 64 * BLOCK);
    }

    @Test
    void preallocatedAttachedVolumeIsSnapshottedLiveTwiceWithoutDroppingItsNbdClients() throws Exception {
        backend.createVolume(sr, "vm", 64 * BLOCK, Provisioning.PREALLOCATED, Optional.empty(), Progress.NONE);
        assertLiveSnapshotsKeepTheWriterAndPointInTimeContent("vm", 64 * BLOCK);
    }

    @Test
    void liveSnapshotRefusedBeforeTheSwitchLeavesVolumeDaemonAndClientsAsTheyWere() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        Attachment attachment = backend.attach(sr, "vm", Optional.empty(), false);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(9);
        Path directory = Path.of(sr.location());
        try (BlockSink writer = Attachments.openSink(attachment)) {
            writeBlocks(writer, model, random, 16 * BLOCK, 4);
            List<String> before = fileNames(directory);
            // the monitor serves one client at a time: this one is closed before the backend needs it
            try (QmpClient client = QmpClient.connect(
                    backend.monitor(sr, "vm").orElseThrow().socket(),
                    new QmpClient.Options(Duration.ofSeconds(30), 1 << 20))) {
                client.execute(
                        "blockdev-add",
                        SrMetadataStore.JSON
                                .createObjectNode()
                                .put("driver", "null-co")
                                .put("node-name", "sink")
                                .put("size", 16 * BLOCK));
                client.execute(
                        "blockdev-backup",
                        SrMetadataStore.JSON
                                .createObjectNode()
                                .put("job-id", "slow")
                                .put("device", "disk")
                                .put("target", "sink")
                                .put("sync", "full")
                                .put("speed", 1));
            }
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> backend.snapshot(sr, "vm", "snap"))
                    .isInstanceOfSatisfying(org.thinsr.allocmap.ThinsrException.class, e -> {
                        assertThat(e.code()).isEqualTo(org.thinsr.allocmap.ErrorCode.VDI_IN_USE);
                        assertThat(e.getMessage()).contains("block job slow").contains("volume vm");
                    });
            assertThat(fileNames(directory)).as("SR files after the refusal").isEqualTo(before);
            assertThat(backend.attachment(sr, "vm")).contains(attachment);
            writeBlocks(writer, model, random, 16 * BLOCK, 4);
            try (QmpClient again = QmpClient.connect(
                    backend.monitor(sr, "vm").orElseThrow().socket(),
                    new QmpClient.Options(Duration.ofSeconds(30), 1 << 20))) {
                again.execute(
                        "job-cancel", SrMetadataStore.JSON.createObjectNode().put("id", "slow"));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!again.execute("query-jobs", null).isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(again.execute("query-block-exports", null)
                                .get(0)
                                .path("node-name")
                                .asText())
                        .as("the export serves the volume's node again")
                        .isEqualTo("disk");
            }
            backend.snapshot(sr, "vm", "snap");
            byte[] atSnapshot = model.clone();
            writeBlocks(writer, model, random, 16 * BLOCK, 4);
            assertThat(contentOf("snap", 16 * BLOCK)).isEqualTo(atSnapshot);
            assertThat(contentOf("vm", 16 * BLOCK)).isEqualTo(model);
        }
        backend.detach(sr, "vm");
    }

    @Test
    void snapshotOfAReadOnlyAttachmentKeepsItsDaemonAndReaders() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        try (BlockSink writer = Attachments.openSink(backend.attach(sr, "vm", Optional.empty(), false))) {
            writeBlocks(writer, model, new Random(10), 16 * BLOCK, 4);
        }
        backend.detach(sr, "vm");
        Attachment attachment = backend.attach(sr, "vm", Optional.empty(), true);
        try (BlockSource reader = Attachments.openSource(attachment)) {
            backend.snapshot(sr, "vm", "snap1");
            backend.clone(sr, "vm", "clone1");
            ByteBuffer read = ByteBuffer.allocate(16 * BLOCK);
            reader.readFully(0, read);
            assertThat(read.array())
                    .as("read through the connection opened before")
                    .isEqualTo(model);
        }
        assertThat(backend.attachment(sr, "vm")).contains(attachment);
        for (String name : List.of("vm", "snap1", "clone1")) {
            assertThat(contentOf(name, 16 * BLOCK)).as(name).isEqualTo(model);
        }
        backend.detach(sr, "vm");
    }

    @Test
    void snapshotAndDestroyCyclesKeepTheChainShortAndTheContent() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(11);
        writeOffline("vm", model, random, 4);
        for (int cycle = 0; cycle < 10; cycle++) {
            backend.snapshot(sr, "vm", "snap");
            byte[] atSnapshot = model.clone();
            writeOffline("vm", model, random, 3);
            assertThat(contentOf("snap", 16 * BLOCK))
                    .as("snapshot of cycle %s", cycle)
                    .isEqualTo(atSnapshot);
            assertThat(backend.destroyVolume(sr, "snap")).isTrue();
            assertThat(backingChainLength("vm"))
                    .as("chain after cycle %s", cycle)
                    .isLessThanOrEqualTo(2);
            assertThat(contentOf("vm", 16 * BLOCK))
                    .as("volume after cycle %s", cycle)
                    .isEqualTo(model);
        }
        assertThat(backingChainLength("vm"))
                .as("the last base merged into the volume")
                .isEqualTo(1);
        assertThat(hiddenBases()).isEmpty();
        assertThat(backend.statVolume(sr, "vm").readOnly()).isFalse();
    }

    @Test
    void baseWithTwoChildrenIsKeptAndMergedOnceOnlyOneIsLeft() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(12);
        writeOffline("vm", model, random, 4);
        backend.snapshot(sr, "vm", "keep");
        byte[] atKeep = model.clone();
        writeOffline("vm", model, random, 4);
        backend.snapshot(sr, "vm", "drop");
        writeOffline("vm", model, random, 4);
        assertThat(backingChainLength("vm")).isEqualTo(3);
        backend.destroyVolume(sr, "drop");
        assertThat(backingChainLength("vm")).as("vm -> base shared with keep").isEqualTo(2);
        assertThat(backingChainLength("keep")).isEqualTo(2);
        assertThat(contentOf("keep", 16 * BLOCK)).isEqualTo(atKeep);
        assertThat(contentOf("vm", 16 * BLOCK)).isEqualTo(model);
        assertThat(hiddenBases()).hasSize(1);

        backend.destroyVolume(sr, "vm");
        assertThat(backingChainLength("keep")).isEqualTo(1);
        assertThat(hiddenBases()).isEmpty();
        assertThat(backend.statVolume(sr, "keep").readOnly())
                .as("the merged snapshot stays read-only")
                .isTrue();
        assertThat(contentOf("keep", 16 * BLOCK)).isEqualTo(atKeep);
    }

    @Test
    void preallocatedVolumeIsRawAgainAfterItsSnapshotIsDestroyed() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.PREALLOCATED, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(13);
        writeOffline("vm", model, random, 4);
        backend.snapshot(sr, "vm", "snap");
        byte[] atSnapshot = model.clone();
        writeOffline("vm", model, random, 4);
        assertThat(backend.statVolume(sr, "vm").provisioning()).isEqualTo(Provisioning.THIN);
        backend.destroyVolume(sr, "snap");
        VolumeInfo vm = backend.statVolume(sr, "vm");
        assertThat(vm.path()).endsWith("vm.raw");
        assertThat(vm.provisioning()).isEqualTo(Provisioning.PREALLOCATED);
        assertThat(vm.readOnly()).isFalse();
        assertThat(contentOf("vm", 16 * BLOCK)).isEqualTo(model);
        assertThat(fileNames(Path.of(sr.location())))
                .filteredOn(file -> file.endsWith(".qcow2") || file.endsWith(".raw"))
                .containsExactly("vm.raw");
        assertThat(model).isNotEqualTo(atSnapshot);
    }

    @Test
    void attachedVolumeIsMergedOnlyAfterItsDetach() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(14);
        Attachment attachment = backend.attach(sr, "vm", Optional.empty(), false);
        try (BlockSink writer = Attachments.openSink(attachment)) {
            writeBlocks(writer, model, random, 16 * BLOCK, 4);
            backend.snapshot(sr, "vm", "snap");
            writeBlocks(writer, model, random, 16 * BLOCK, 4);
            backend.destroyVolume(sr, "snap");
            assertThat(backingChainLength("vm")).as("not merged while attached").isEqualTo(2);
            writeBlocks(writer, model, random, 16 * BLOCK, 4);
            try (BlockSource reader = Attachments.openSource(attachment)) {
                ByteBuffer read = ByteBuffer.allocate(16 * BLOCK);
                reader.readFully(0, read);
                assertThat(read.array()).as("read through the export").isEqualTo(model);
            }
        }
        assertThat(backend.attachment(sr, "vm")).contains(attachment);
        backend.detach(sr, "vm");
        assertThat(backingChainLength("vm")).as("merged at detach").isEqualTo(1);
        assertThat(hiddenBases()).isEmpty();
        assertThat(contentOf("vm", 16 * BLOCK)).isEqualTo(model);
    }

    @Test
    void attachedSnapshotIsReadFromItsChainsFilesExactlyAsQemuReadsIt() throws Exception {
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(5);
        writeOffline("vm", model, random, 6);
        backend.snapshot(sr, "vm", "older"); // those blocks now lie in a hidden base
        writeOffline("vm", model, random, 4);
        qemuIo("vm", "write -q -z " + 3 * BLOCK + " " + BLOCK); // a zero cluster over base data
        java.util.Arrays.fill(model, 3 * BLOCK, 4 * BLOCK, (byte) 0);
        backend.snapshot(sr, "vm", "snap"); // snap: an empty top over two bases
        byte[] expected = contentOf("snap", 16 * BLOCK);
        assertThat(expected).isEqualTo(model);

        assertThat(backend.openDirect(sr, "snap"))
                .as("not attached: nothing is read directly")
                .isEmpty();
        backend.attach(sr, "snap", Optional.empty(), true);
        try (BlockSource direct = backend.openDirect(sr, "snap").orElseThrow()) {
            assertThat(direct.size()).isEqualTo(16 * BLOCK);
            byte[] read = new byte[16 * BLOCK];
            int position = 0;
            while (position < read.length) { // pieces that start and end anywhere, across runs and gaps
                int length = Math.min(read.length - position, 1 + random.nextInt(3 * BLOCK));
                direct.readFully(position, ByteBuffer.wrap(read, position, length));
                position += length;
            }
            assertThat(read).isEqualTo(expected);
            assertThatThrownBy(() -> direct.readFully(16 * BLOCK - 10, ByteBuffer.allocate(11)))
                    .isInstanceOf(java.io.EOFException.class);
            // the same pieces as file regions (what a sink sends with sendfile) read the same bytes
            java.util.Arrays.fill(read, (byte) 0x5a);
            position = 0;
            while (position < read.length) {
                int length = Math.min(read.length - position, 1 + random.nextInt(3 * BLOCK));
                int at = position;
                for (org.thinsr.allocmap.FileRegion region :
                        direct.regions(position, length).orElseThrow()) {
                    ByteBuffer into = ByteBuffer.wrap(read, at, (int) region.length());
                    if (region.isZeros()) {
                        into.put(new byte[(int) region.length()]);
                    } else {
                        while (into.hasRemaining()) {
                            region.file().read(into, region.position() + into.position() - at);
                        }
                    }
                    at += (int) region.length();
                }
                assertThat(at - position).as("regions cover the range").isEqualTo(length);
                position += length;
            }
            assertThat(read).isEqualTo(expected);
            assertThatThrownBy(() -> direct.regions(16 * BLOCK - 10, 11)).isInstanceOf(java.io.EOFException.class);
        } finally {
            backend.detach(sr, "snap");
        }

        qemuIo("vm", "write -q -c -P 9 0 " + BLOCK); // a compressed cluster has no file offset
        backend.snapshot(sr, "vm", "compressed");
        backend.attach(sr, "compressed", Optional.empty(), true);
        try {
            assertThat(backend.openDirect(sr, "compressed")).isEmpty();
        } finally {
            backend.detach(sr, "compressed");
        }
    }

    @Test
    void mapOfAVolumeNotOpenForWritingIsAskedOfQemuImgOnceUntilAFileOfItsChainChanges() throws Exception {
        AtomicLong maps = new AtomicLong();
        FileBackend counting = new FileBackend(
                (argv, environment, timeout) -> {
                    if (argv.size() > 1
                            && argv.get(0).equals("qemu-img")
                            && argv.get(1).equals("map")) {
                        maps.incrementAndGet();
                    }
                    return CommandRunner.PROCESSES.run(argv, environment, timeout);
                },
                Path.of(sr.location()).resolveSibling("run"));
        backend.createVolume(sr, "vm", 16 * BLOCK, Provisioning.THIN, Optional.empty(), Progress.NONE);
        byte[] model = new byte[16 * BLOCK];
        Random random = new Random(13);
        writeOffline("vm", model, random, 3);
        backend.snapshot(sr, "vm", "base-of-vm"); // a chain of two files
        writeOffline("vm", model, random, 2);
        var first = counting.allocationMap(sr, "vm");
        assertThat(counting.allocationMap(sr, "vm")).isEqualTo(first);
        assertThat(maps.get()).as("the same chain asked twice").isEqualTo(1);

        writeOffline("vm", model, random, 1); // a file of the chain changed
        var second = counting.allocationMap(sr, "vm");
        assertThat(maps.get()).isEqualTo(2);
        assertThat(second.nonZeroExtents())
                .isEqualTo(backend.allocationMap(sr, "vm").nonZeroExtents());

        Attachment writable = backend.attach(sr, "vm", Optional.empty(), false); // asked every time
        try (BlockSink writer = Attachments.openSink(writable)) {
            counting.allocationMap(sr, "vm");
            writeBlocks(writer, model, random, 16 * BLOCK, 1);
            counting.allocationMap(sr, "vm");
            assertThat(maps.get()).isEqualTo(4);
        } finally {
            backend.detach(sr, "vm");
        }
        backend.attach(sr, "vm", Optional.empty(), true); // read-only: a pass's map and its reader share one run
        try {
            counting.allocationMap(sr, "vm");
            try (BlockSource direct = counting.openDirect(sr, "vm").orElseThrow()) {
                byte[] read = new byte[16 * BLOCK];
                direct.readFully(0, ByteBuffer.wrap(read));
                assertThat(read)
                        .as("the daemon's write is in the map the reader uses")
                        .isEqualTo(model);
            }
            assertThat(maps.get()).isEqualTo(5);
        } finally {
            backend.detach(sr, "vm");
        }
    }

    private void qemuIo(String name, String command) throws Exception {
        run(List.of(
                "qemu-io",
                "-f",
                "qcow2",
                "-c",
                command,
                backend.statVolume(sr, name).path()));
    }

    /** Writes {@code count} random 64 KiB blocks into a detached volume with {@code qemu-io}. */
    private void writeOffline(String name, byte[] model, Random random, int count) throws Exception {
        Tools.require("qemu-io", "qemu-utils");
        VolumeInfo info = backend.statVolume(sr, name);
        for (int i = 0; i < count; i++) {
            int block = random.nextInt(model.length / BLOCK);
            int pattern = 1 + random.nextInt(255);
            run(List.of(
                    "qemu-io",
                    "-f",
                    info.path().endsWith(".raw") ? "raw" : "qcow2",
                    "-c",
                    "write -q -P " + pattern + " " + (long) block * BLOCK + " " + BLOCK,
                    info.path()));
            java.util.Arrays.fill(model, block * BLOCK, (block + 1) * BLOCK, (byte) pattern);
        }
    }

    private List<String> hiddenBases() throws IOException {
        return fileNames(Path.of(sr.location())).stream()
                .filter(file -> file.startsWith(".base-"))
                .toList();
    }

    private static List<String> fileNames(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.map(file -> file.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * One NBD connection writes the blocks of {@code [0, size/2)} in the test thread (a model keeps
     * what it wrote) while a second one keeps writing {@code [size/2, size)} from another thread
     * through both snapshots; both must go on working, each snapshot must hold exactly the model at
     * its time in the first half, and the live volume everything.
     */
    private void assertLiveSnapshotsKeepTheWriterAndPointInTimeContent(String name, long size) throws Exception {
        Attachment attachment = backend.attach(sr, name, Optional.empty(), false);
        long half = size / 2;
        byte[] model = new byte[(int) size];
        Random random = new Random(7);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong backgroundWrites = new AtomicLong();
        AtomicReference<Throwable> backgroundFailure = new AtomicReference<>();
        byte[] background = new byte[(int) half];
        try (BlockSink writer = Attachments.openSink(attachment);
                BlockSink other = Attachments.openSink(attachment)) {
            Thread thread = Thread.ofPlatform().name("background-writer").start(() -> {
                Random own = new Random(8);
                try {
                    while (!stop.get()) {
                        int block = own.nextInt((int) (half / BLOCK));
                        byte[] data = new byte[BLOCK];
                        own.nextBytes(data);
                        other.write(half + (long) block * BLOCK, ByteBuffer.wrap(data));
                        other.flush();
                        System.arraycopy(data, 0, background, block * BLOCK, BLOCK);
                        backgroundWrites.incrementAndGet();
                    }
                } catch (Throwable e) {
                    backgroundFailure.set(e);
                }
            });
            try {
                writeBlocks(writer, model, random, half, 6);
                awaitMoreWrites(backgroundWrites, backgroundFailure);
                backend.snapshot(sr, name, "snap1");
                byte[] atSnap1 = model.clone();
                awaitMoreWrites(backgroundWrites, backgroundFailure);
                writeBlocks(writer, model, random, half, 6);
                backend.snapshot(sr, name, "snap2");
                byte[] atSnap2 = model.clone();
                awaitMoreWrites(backgroundWrites, backgroundFailure);
                writeBlocks(writer, model, random, half, 6);

                assertThat(firstHalf(contentOf("snap1", size), half)).isEqualTo(firstHalf(atSnap1, half));
                assertThat(firstHalf(contentOf("snap2", size), half)).isEqualTo(firstHalf(atSnap2, half));
                assertThat(firstHalf(contentOf("snap1", size), half))
                        .as("the two snapshots differ")
                        .isNotEqualTo(firstHalf(atSnap2, half));
                // the replaced nodes were reopened read-only: their write locks are gone
                for (String snapshot : List.of("snap1", "snap2")) {
                    Attachment copy = backend.attach(sr, snapshot, Optional.empty(), true);
                    try (BlockSource reader = Attachments.openSource(copy)) {
                        ByteBuffer read = ByteBuffer.allocate((int) half);
                        reader.readFully(0, read);
                        assertThat(read.array())
                                .as("%s through its own export", snapshot)
                                .isEqualTo(firstHalf(snapshot.equals("snap1") ? atSnap1 : atSnap2, half));
                    }
                    backend.detach(sr, snapshot);
                }
                try (Stream<Path> entries = Files.list(Path.of(sr.location()))) {
                    assertThat(entries.map(file -> file.getFileName().toString()))
                            .as("no temporary files left")
                            .noneMatch(file -> file.startsWith(".tmp-"));
                }
            } finally {
                stop.set(true);
                thread.join();
            }
            assertThat(backgroundFailure.get()).as("background writer failure").isNull();
            System.arraycopy(background, 0, model, (int) half, (int) half);
            try (BlockSource reader = Attachments.openSource(attachment)) {
                ByteBuffer live = ByteBuffer.allocate((int) size);
                reader.readFully(0, live);
                assertThat(live.array()).as("live volume through NBD").isEqualTo(model);
            }
        }
        try (QmpClient client = QmpClient.connect(
                backend.monitor(sr, name).orElseThrow().socket(),
                new QmpClient.Options(Duration.ofSeconds(30), 1 << 20))) {
            JsonNode exports = client.execute("query-block-exports", null);
            assertThat(exports.get(0).path("node-name").asText())
                    .as("the export serves the second overlay")
                    .startsWith("thinsr-snap-");
        }
        assertThat(backingChainLength(name)).as("volume -> base 2 -> base 1").isEqualTo(3);
        assertThat(attachment).isEqualTo(backend.attachment(sr, name).orElseThrow());
        backend.detach(sr, name);
        assertThat(contentOf(name, size)).as("volume after detach").isEqualTo(model);
        assertThat(backend.statVolume(sr, "snap1").readOnly()).isTrue();
        assertThat(backend.destroyVolume(sr, "snap1")).isTrue();
        assertThat(firstHalf(contentOf("snap2", size), half)).isNotEmpty();
        assertThat(contentOf(name, size)).as("volume after destroying snap1").isEqualTo(model);
    }

    private static void writeBlocks(BlockSink writer, byte[] model, Random random, long limit, int count)
            throws IOException {
        for (int i = 0; i < count; i++) {
            int block = random.nextInt((int) (limit / BLOCK));
            byte[] data = new byte[BLOCK];
            random.nextBytes(data);
            writer.write((long) block * BLOCK, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, model, block * BLOCK, BLOCK);
        }
        writer.flush();
    }

    private static void awaitMoreWrites(AtomicLong writes, AtomicReference<Throwable> failure)
            throws InterruptedException {
        long before = writes.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (writes.get() < before + 3 && failure.get() == null && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(failure.get()).as("background writer failure").isNull();
        assertThat(writes.get()).as("background writes").isGreaterThanOrEqualTo(before + 3);
    }

    private static byte[] firstHalf(byte[] content, long half) {
        return java.util.Arrays.copyOf(content, (int) half);
    }

    /** The content of a volume by {@code qemu-img convert -U} (it may be in use). */
    private byte[] contentOf(String name, long size) throws Exception {
        Path file = Path.of(backend.statVolume(sr, name).path());
        Path raw = workDir.resolve(name + "-" + System.nanoTime() + ".raw");
        run(List.of(
                "qemu-img",
                "convert",
                "-U",
                "-f",
                file.toString().endsWith(".raw") ? "raw" : "qcow2",
                "-O",
                "raw",
                file.toString(),
                raw.toString()));
        byte[] content = Files.readAllBytes(raw);
        Files.delete(raw);
        assertThat(content).hasSize((int) size);
        return content;
    }

    private int backingChainLength(String name) throws Exception {
        String json = run(List.of(
                "qemu-img",
                "info",
                "-U",
                "--backing-chain",
                "--output=json",
                backend.statVolume(sr, name).path()));
        return SrMetadataStore.JSON.readTree(json).size();
    }

    private static String run(List<String> argv) throws Exception {
        Process process = new ProcessBuilder(new ArrayList<>(argv))
                .redirectErrorStream(true)
                .start();
        String output;
        try (InputStream in = process.getInputStream()) {
            output = new String(in.readNBytes(1 << 20), StandardCharsets.UTF_8);
        }
        assertThat(process.waitFor(60, TimeUnit.SECONDS))
                .as("%s finished", argv)
                .isTrue();
        assertThat(process.exitValue()).as("%s: %s", argv, output).isZero();
        return output;
    }
}
