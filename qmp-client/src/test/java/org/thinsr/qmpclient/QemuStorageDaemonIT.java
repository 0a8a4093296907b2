package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.qmpclient.QmpTypes.BlockNodeInfo;

/** QMP, the managed daemon, checkpoints and pull-mode backup against qemu-storage-daemon 7.2. */
class QemuStorageDaemonIT {
    static final long MiB = 1024 * 1024;
    static Path directory;

    @BeforeAll
    static void tools() throws IOException {
        Tools.require("qemu-storage-daemon", "qemu-system-common");
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-io", "qemu-utils");
        Tools.require("nbdinfo", "libnbd-bin");
        directory = Tools.workDirectory("QemuStorageDaemonIT");
    }

    static Path disk(String name) throws IOException {
        Path image = directory.resolve(name + ".qcow2");
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "64M");
        Tools.run("qemu-io", "-f", "qcow2", "-c", "write -P 0xaa 0 8M", "-c", "write -P 0xbb 40M 4M", image.toString());
        return image;
    }

    static QemuStorageDaemon daemon(String name, Path image) throws IOException {
        return QemuStorageDaemon.builder(directory.resolve(name))
                .image("fmt0", image, "qcow2", false)
                .nbdServer(0)
                .start();
    }

    @Test
    void commandsRepliesErrorsAndEventsAgainstTheRealDaemon() throws IOException {
        Path image = disk("commands");
        try (QemuStorageDaemon daemon = daemon("commands", image)) {
            QmpCommands qmp = daemon.commands();
            String versionText = Tools.run("qemu-storage-daemon", "--version");
            assertThat(versionText).contains("version " + qmp.queryVersion());

            BlockNodeInfo node = qmp.namedBlockNode("fmt0");
            JsonNode info =
                    QmpClient.JSON.readTree(Tools.run("qemu-img", "info", "-U", "--output=json", image.toString()));
            assertThat(node.virtualSize()).isEqualTo(info.path("virtual-size").asLong());
            assertThat(node.driver()).isEqualTo(info.path("format").asText());

            assertThatThrownBy(() -> qmp.blockdevDel("no-such-node")).isInstanceOfSatisfying(QmpException.class, e -> {
                assertThat(e.errorClass()).isEqualTo("GenericError");
                assertThat(e.description()).contains("no-such-node");
            });
            assertThatThrownBy(() -> daemon.qmp().execute("no-such-command", null))
                    .isInstanceOfSatisfying(
                            QmpException.class, e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));

            qmp.blockExportAddNbd("e1", "fmt0", "disk", false, true, List.of());
            assertThat(qmp.queryBlockExports())
                    .extracting(QmpTypes.BlockExportInfo::id)
                    .containsExactly("e1");
            CompletableFuture<QmpEvent> deleted = daemon.qmp()
                    .eventFuture(e -> e.name().equals(QmpEvent.BLOCK_EXPORT_DELETED)
                            && e.subject().equals("e1"));
            qmp.blockExportDel("e1", false);
            assertThat(daemon.qmp().awaitEvent(deleted, Duration.ofSeconds(10)).subject())
                    .isEqualTo("e1");
            assertThat(qmp.queryBlockExports()).isEmpty();
        }
    }

    @Test
    void checkpointAndPullBackupExportExactlyTheRangesWrittenSinceTheCheckpoint() throws Exception {
        Path image = disk("backup");
        try (QemuStorageDaemon daemon = daemon("backup", image)) {
            QmpCommands qmp = daemon.commands();
            qmp.blockExportAddNbd("live", "fmt0", "live", true, false, List.of());
            PullBackup.createCheckpoint(qmp, "fmt0", "cp1");
            long granularity = qmp.namedBlockNode("fmt0").bitmap("cp1").granularity();

            byte[] payload = new byte[(int) MiB];
            Arrays.fill(payload, (byte) 0x5a);
            ExtentSet.Builder written = ExtentSet.builder();
            try (NbdBlockSink live = NbdBlockSink.open(daemon.nbdUri("live"), 1)) {
                live.write(5 * MiB, ByteBuffer.wrap(payload));
                written.addLength(5 * MiB, MiB);
                live.write(20 * MiB + 4096, ByteBuffer.wrap(payload, 0, 4096));
                written.addLength(20 * MiB + 4096, 4096);
                live.writeZeroes(30 * MiB, 2 * MiB);
                written.addLength(30 * MiB, 2 * MiB);
                live.write(50 * MiB + 100, ByteBuffer.wrap(payload, 0, 70_000));
                written.addLength(50 * MiB + 100, 70_000);
                live.flush();
            }
            ExtentSet expected = written.build().alignOut(granularity);

            Path scratch = directory.resolve("backup-scratch.qcow2");
            try (PullBackup backup = PullBackup.begin(qmp, "bk1", "fmt0", "backup", "cp1", "cp2", scratch)) {
                NbdUri uri = daemon.nbdUri(backup.exportName());
                ExtentSet dirty;
                byte[] beforeLaterWrite = new byte[65536];
                try (NbdConnection connection =
                        NbdConnection.connect(uri, backup.metaContexts(), NbdConnection.Options.DEFAULT)) {
                    dirty = QemuAllocation.dirtyExtents(connection, backup.changesBitmap());
                    // a write to the live disk after the freeze does not show in the backup
                    try (NbdBlockSink live = NbdBlockSink.open(daemon.nbdUri("live"), 1)) {
                        byte[] later = new byte[65536];
                        Arrays.fill(later, (byte) 0xdd);
                        live.write(5 * MiB, ByteBuffer.wrap(later));
                        live.flush();
                    }
                    connection.read(5 * MiB, ByteBuffer.wrap(beforeLaterWrite));
                }
                assertThat(dirty).isEqualTo(expected);
                StatusRuns nbdinfo = Tools.parseNbdinfoMap(
                        "dirty",
                        Tools.run("nbdinfo", "--map=qemu:dirty-bitmap:" + backup.changesBitmap(), uri.toString()));
                assertThat(QemuAllocation.dirtyExtents(nbdinfo)).isEqualTo(dirty);
                assertThat(beforeLaterWrite).isEqualTo(Arrays.copyOf(payload, 65536));
                assertThat(qmp.namedBlockNode("fmt0").bitmap("cp2").count()).isEqualTo(65536);
                assertThat(qmp.queryJobs()).extracting(QmpTypes.JobInfo::id).containsExactly("bk1-fleece");
            }
            assertThat(qmp.queryJobs()).isEmpty();
            assertThat(qmp.queryBlockExports())
                    .extracting(QmpTypes.BlockExportInfo::id)
                    .containsExactly("live");
            assertThat(qmp.queryNamedBlockNodes())
                    .extracting(BlockNodeInfo::nodeName)
                    .doesNotContain("bk1-scratch");
            assertThat(scratch).doesNotExist();
        }
        // the checkpoints were persisted into the qcow2 when the daemon quit
        assertThat(Tools.run("qemu-img", "info", image.toString()))
                .contains("name: cp1")
                .contains("name: cp2");
    }

    @Test
    void daemonKilledMidCommandIsReportedAsADeadPeerNotAHang() throws Exception {
        Path image = disk("killed");
        QemuStorageDaemon daemon = daemon("killed", image);
        try {
            ProcessHandle handle = ProcessHandle.of(daemon.pid()).orElseThrow();
            Tools.run("kill", "-STOP", Long.toString(daemon.pid()));
            CompletableFuture<JsonNode> inFlight = daemon.qmp().executeAsync("query-named-block-nodes", null);
            Thread.sleep(100);
            assertThat(inFlight).isNotDone();
            handle.destroyForcibly();
            long start = System.nanoTime();
            assertThatThrownBy(() -> inFlight.get(20, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .hasMessageContaining("QMP peer closed the connection");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            assertThatThrownBy(() -> daemon.commands().queryJobs()).hasMessageContaining("QMP connection is dead");
        } finally {
            daemon.close();
        }
        assertThat(daemon.isAlive()).isFalse();
    }

    @Test
    void closeQuitsTheDaemonAndLeavesNoProcessBehind() throws IOException {
        Path image = disk("close");
        QemuStorageDaemon daemon = daemon("close", image);
        long pid = daemon.pid();
        assertThat(ProcessHandle.of(pid)).isPresent();
        long start = System.nanoTime();
        daemon.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                .isFalse();
        daemon.close();
    }

    @Test
    void daemonThatCannotStartFailsWithItsOwnErrorMessage() {
        assertThatThrownBy(() -> QemuStorageDaemon.builder(directory.resolve("bad"))
                        .image("fmt0", directory.resolve("missing.qcow2"), "qcow2", true)
                        .start())
                .hasMessageContaining("exited with status")
                .hasMessageContaining("missing.qcow2");
    }

    @Test
    void jvmExitingWithoutCloseLeavesNoDaemonBehind() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        String pidText = Tools.run(
                java.toString(),
                "-cp",
                System.getProperty("java.class.path"),
                OrphanDaemonMain.class.getName(),
                directory.resolve("orphan").toString());
        long pid = Long.parseLong(pidText.strip());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                .as("qemu-storage-daemon pid %d after its JVM exited", pid)
                .isFalse();
    }

    @Test
    void mapOfADaemonExportWithABackingChainEqualsNbdinfo() throws Exception {
        Path base = directory.resolve("chain-base.qcow2");
        Path overlay = directory.resolve("chain-top.qcow2");
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "64M");
        Tools.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 2M", "-c", "write -z 10M 1M", base.toString());
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", overlay.toString());
        Tools.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 1M 2M", "-c", "write -z 20M 1M", overlay.toString());
        try (QemuStorageDaemon daemon = QemuStorageDaemon.builder(directory.resolve("chain"))
                .image("fmt0", overlay, "qcow2", true)
                .nbdServer(0)
                .start()) {
            daemon.commands().blockExportAddNbd("chain", "fmt0", "chain", false, true, List.of());
            NbdUri uri = daemon.nbdUri("chain");
            try (NbdConnection connection = NbdConnection.connect(
                    uri,
                    List.of(QemuAllocation.BASE_ALLOCATION, QemuAllocation.ALLOCATION_DEPTH),
                    NbdConnection.Options.DEFAULT)) {
                var ours = QemuAllocation.statusRuns(connection, 0, connection.size());
                assertThat(ours.get(QemuAllocation.BASE_ALLOCATION))
                        .isEqualTo(Tools.parseNbdinfoMap(
                                QemuAllocation.BASE_ALLOCATION, Tools.run("nbdinfo", "--map", uri.toString())));
                assertThat(ours.get(QemuAllocation.ALLOCATION_DEPTH))
                        .isEqualTo(Tools.parseNbdinfoMap(
                                QemuAllocation.ALLOCATION_DEPTH,
                                Tools.run("nbdinfo", "--map=qemu:allocation-depth", uri.toString())));
                assertThat(QemuAllocation.map(connection))
                        .isEqualTo(QemuAllocation.fromQemuImgMap(overlay, "qcow2", Duration.ofSeconds(60)));
            }
            // a node mapped through QMP (temporary export) gives the same map; the export is gone after
            assertThat(QemuAllocation.ofNode(daemon.commands(), "fmt0", daemon.nbdSocket()))
                    .isEqualTo(QemuAllocation.fromQemuImgMap(overlay, "qcow2", Duration.ofSeconds(60)));
            assertThat(daemon.commands().queryBlockExports())
                    .extracting(QmpTypes.BlockExportInfo::id)
                    .containsExactly("chain");
        }
    }

    @Test
    void mirrorReachesReadyCompletesAndLeavesAnIdenticalCopy() throws Exception {
        Path image = disk("mirror");
        Path target = directory.resolve("mirror-target.qcow2");
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", target.toString(), "64M");
        try (QemuStorageDaemon daemon = daemon("mirror", image)) {
            QmpCommands qmp = daemon.commands();
            qmp.blockdevAdd(QmpCommands.object()
                    .put("driver", "file")
                    .put("node-name", "target-file")
                    .put("filename", target.toString()));
            qmp.blockdevAdd(QmpCommands.object()
                    .put("driver", "qcow2")
                    .put("node-name", "target")
                    .put("file", "target-file"));
            QmpClient client = daemon.qmp();
            CompletableFuture<QmpEvent> ready = client.eventFuture(e ->
                    e.name().equals(QmpEvent.BLOCK_JOB_READY) && e.subject().equals("m1"));
            CompletableFuture<QmpEvent> concluded =
                    client.eventFuture(e -> e.name().equals(QmpEvent.JOB_STATUS_CHANGE)
                            && e.subject().equals("m1")
                            && e.data().path("status").asText().equals("concluded"));
            qmp.blockdevMirror("m1", "fmt0", "target", "full", false);
            client.awaitEvent(ready, Duration.ofSeconds(30));
            assertThat(qmp.job("m1").status()).isEqualTo("ready");
            qmp.jobComplete("m1");
            client.awaitEvent(concluded, Duration.ofSeconds(30));
            assertThat(qmp.job("m1").error()).isNull();
            qmp.jobDismiss("m1");
            assertThat(qmp.queryJobs()).isEmpty();
            qmp.blockdevDel("target");
            qmp.blockdevDel("target-file");
        }
        assertThat(Tools.run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", image.toString(), target.toString()))
                .contains("Images are identical");
    }

    @Test
    void dirtyBitmapCommandsChangeWhatQemuReports() throws Exception {
        Path image = disk("bitmaps");
        try (QemuStorageDaemon daemon = daemon("bitmaps", image)) {
            QmpCommands qmp = daemon.commands();
            qmp.blockExportAddNbd("rw", "fmt0", "rw", true, false, List.of());
            qmp.blockDirtyBitmapAdd("fmt0", "a", 65536, false, false);
            qmp.blockDirtyBitmapAdd("fmt0", "b", 65536, false, true);
            try (NbdBlockSink sink = NbdBlockSink.open(daemon.nbdUri("rw"), 1)) {
                sink.write(0, ByteBuffer.allocate(131072));
                sink.flush();
            }
            assertThat(qmp.namedBlockNode("fmt0").bitmap("a").count()).isEqualTo(131072);
            assertThat(qmp.namedBlockNode("fmt0").bitmap("a").recording()).isTrue();
            assertThat(qmp.namedBlockNode("fmt0").bitmap("b").count()).isZero();
            assertThat(qmp.namedBlockNode("fmt0").bitmap("b").recording()).isFalse();
            qmp.blockDirtyBitmapMerge("fmt0", "b", List.of("a"));
            assertThat(qmp.namedBlockNode("fmt0").bitmap("b").count()).isEqualTo(131072);
            qmp.blockDirtyBitmapClear("fmt0", "a");
            qmp.blockDirtyBitmapDisable("fmt0", "a");
            qmp.blockDirtyBitmapEnable("fmt0", "b");
            try (NbdBlockSink sink = NbdBlockSink.open(daemon.nbdUri("rw"), 1)) {
                sink.write(MiB, ByteBuffer.allocate(65536));
                sink.flush();
            }
            assertThat(qmp.namedBlockNode("fmt0").bitmap("a").count()).isZero();
            assertThat(qmp.namedBlockNode("fmt0").bitmap("b").count()).isEqualTo(131072 + 65536);
            qmp.blockDirtyBitmapRemove("fmt0", "a");
            qmp.transaction(List.of(QmpCommands.TransactionAction.bitmapRemove("fmt0", "b")));
            assertThat(qmp.namedBlockNode("fmt0").dirtyBitmaps()).isEmpty();
        }
    }
}
