package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/** The SR/VDI operations end to end on a file SR with real qemu-img, qemu-storage-daemon and nbdkit. */
class LifecycleIT {
    private static final long MIB = 1 << 20;

    @TempDir
    Path workDir;

    private Lifecycle lifecycle;
    private Optional<SrRef> sr;

    @BeforeEach
    void createSr() {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-storage-daemon", "qemu-system-common");
        lifecycle = TestLifecycles.create(workDir, Duration.ofSeconds(30));
        SrRef ref = SrRef.file(workDir.resolve("sr"));
        lifecycle.srCreate(ref, Optional.empty(), "test SR", "for tests");
        sr = Optional.of(ref);
    }

    private static void assertCode(ThrowingRunnable call, ErrorCode code) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ThinsrException.class, e -> assertThat(e.code())
                .isEqualTo(code));
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private VdiView disk(String label, long size) {
        return lifecycle.vdiCreate(sr, label, "", size, Provisioning.THIN, Map.of(), Progress.NONE);
    }

    private Path rawTemplate(String name, long size, long dataOffset, int length, int pattern) throws IOException {
        Path file = workDir.resolve(name);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] bytes = new byte[length];
            java.util.Arrays.fill(bytes, (byte) pattern);
            channel.write(ByteBuffer.wrap(bytes), dataOffset);
        }
        try (java.io.RandomAccessFile sparse = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(size);
        }
        return file;
    }

    // ---- SRs ----

    @Test
    void srCreateRegistersTheSrAndStatReportsIt() {
        SrView view = lifecycle.srStat(sr);
        assertThat(view.nameLabel()).isEqualTo("test SR");
        assertThat(view.description()).isEqualTo("for tests");
        assertThat(view.backend()).isEqualTo("file");
        assertThat(view.stat().totalBytes()).isPositive();
        assertThat(lifecycle.srList()).extracting(SrView::uuid).containsExactly(view.uuid());
        assertCode(() -> lifecycle.srCreate(sr.get(), Optional.empty(), "again", ""), ErrorCode.SR_EXISTS);
    }

    @Test
    void srForgetKeepsDataAndSrIntroduceFindsItAgainIdempotently() {
        VdiView vdi = disk("keep me", 4 * MIB);
        String uuid = lifecycle.srStat(sr).uuid();
        lifecycle.srForget(sr.get());
        lifecycle.srForget(sr.get());
        assertThat(lifecycle.srList()).isEmpty();
        assertThat(lifecycle.srIntroduce(sr.get()).uuid()).isEqualTo(uuid);
        assertThat(lifecycle.srIntroduce(sr.get()).uuid()).isEqualTo(uuid);
        assertThat(lifecycle.vdiList(sr)).extracting(VdiView::uuid).containsExactly(vdi.uuid());
        assertThat(lifecycle.srList()).hasSize(1);
    }

    @Test
    void srDestroyRefusesWhileVdisExistUnlessForced() {
        disk("blocker", 4 * MIB);
        assertCode(() -> lifecycle.srDestroy(sr.get(), false), ErrorCode.SR_NOT_EMPTY);
        assertThat(lifecycle.vdiList(sr)).hasSize(1);
        lifecycle.srDestroy(sr.get(), true);
        lifecycle.srDestroy(sr.get(), true);
        assertThat(workDir.resolve("sr")).doesNotExist();
        assertThat(lifecycle.srProbe(sr.get())).isEmpty();
        assertThat(lifecycle.srList()).isEmpty();
    }

    @Test
    void srProbeFindsAnExistingSr() {
        List<SrView> found = lifecycle.srProbe(sr.get());
        assertThat(found).singleElement().extracting(SrView::nameLabel).isEqualTo("test SR");
        assertThat(lifecycle.srProbe(SrRef.file(workDir.resolve("nothing-here"))))
                .isEmpty();
    }

    @Test
    void commandsWithoutAnSrUseADefaultSrCreatedOnFirstUse() {
        VdiView vdi =
                lifecycle.vdiCreate(Optional.empty(), "first", "", 4 * MIB, Provisioning.THIN, Map.of(), Progress.NONE);
        Path defaultSr = workDir.resolve("home").resolve("default-sr");
        assertThat(defaultSr.resolve(".thinsr-meta")).isRegularFile();
        assertThat(Path.of(vdi.path()).getParent()).isEqualTo(defaultSr);
        assertThat(lifecycle.vdiList(Optional.empty()))
                .extracting(VdiView::uuid)
                .containsExactly(vdi.uuid());
        assertThat(lifecycle.srStat(Optional.empty()).nameLabel()).isEqualTo("default");
    }

    // ---- disks ----

    @Test
    void vdiCreateNamesTheVolumeAfterTheLabelAndKeepsLabelsUnique() {
        VdiView first = disk("web server", 4 * MIB);
        VdiView second = disk("web server", 4 * MIB);
        VdiView hostile = disk("../../$(reboot)", 4 * MIB);
        assertThat(first.volume()).isEqualTo("web_server");
        assertThat(second.volume()).isEqualTo("web_server_1");
        assertThat(hostile.volume()).isEqualTo("_.._reboot");
        assertThat(Path.of(hostile.path()).getParent()).isEqualTo(workDir.resolve("sr"));
        assertThat(hostile.nameLabel()).isEqualTo("../../$(reboot)");
    }

    @Test
    void cancelledPreallocatedCreateLeavesNoVdi() {
        Progress cancelling = new Progress() {
            private long done;

            @Override
            public void update(long doneBytes, long totalBytes) {
                done = doneBytes;
            }

            @Override
            public boolean cancelled() {
                return done > 0;
            }
        };
        assertCode(
                () -> lifecycle.vdiCreate(sr, "big", "", 256 * MIB, Provisioning.PREALLOCATED, Map.of(), cancelling),
                ErrorCode.CANCELLED);
        assertThat(lifecycle.vdiList(sr)).isEmpty();
        assertThat(workDir.resolve("sr").toFile().list())
                .noneMatch(name -> name.startsWith("big") || name.startsWith(".tmp"));
        VdiView done = lifecycle.vdiCreate(sr, "big", "", 16 * MIB, Provisioning.PREALLOCATED, Map.of(), Progress.NONE);
        assertThat(done.volume()).isEqualTo("big");
        assertThat(done.provisioning()).isEqualTo("preallocated");
    }

    @Test
    void vdiResizeGrowsAndRefusesToShrink() {
        VdiView vdi = disk("grow", 4 * MIB);
        assertThat(lifecycle.vdiResize(sr, vdi.uuid(), 8 * MIB).virtualSizeBytes())
                .isEqualTo(8 * MIB);
        assertCode(() -> lifecycle.vdiResize(sr, vdi.uuid(), 4 * MIB), ErrorCode.VDI_SHRINK_REFUSED);
        assertThat(lifecycle.vdiStat(sr, vdi.uuid()).virtualSizeBytes()).isEqualTo(8 * MIB);
    }

    @Test
    void vdiSetStoresXapiKeysNameAndDescription() {
        VdiView vdi = disk("keys", 4 * MIB);
        lifecycle.vdiSet(
                sr,
                vdi.uuid(),
                Optional.of("renamed"),
                Optional.of("described"),
                Map.of("vdi-type", "user", "content_id", "abc", "snapshot_time", "20260101T00:00:00Z", "other", "x"),
                Set.of());
        VdiView set = lifecycle.vdiSet(sr, vdi.uuid(), Optional.empty(), Optional.empty(), Map.of(), Set.of("other"));
        assertThat(set.nameLabel()).isEqualTo("renamed");
        assertThat(set.description()).isEqualTo("described");
        assertThat(set.keys())
                .containsExactlyInAnyOrderEntriesOf(
                        Map.of("vdi-type", "user", "content_id", "abc", "snapshot_time", "20260101T00:00:00Z"));
        assertThat(lifecycle.vdiStat(sr, vdi.uuid()).keys()).isEqualTo(set.keys());
        assertThat(set.volume()).isEqualTo("keys");
    }

    @Test
    void snapshotGetsXapiKeysAndMapWithBaseIsTheDelta() throws Exception {
        VdiView vdi = lifecycle.vdiCreate(
                sr, "db", "", 16 * MIB, Provisioning.THIN, Map.of("vdi-type", "user"), Progress.NONE);
        Attachment attachment = lifecycle.vdiAttach(sr, vdi.uuid(), false);
        assertThat(lifecycle.vdiAttach(sr, vdi.uuid(), false)).isEqualTo(attachment);
        qemuIo(attachment.target(), "write -P 0x11 0 1M");
        VdiView snapshot = lifecycle.vdiSnapshot(sr, vdi.uuid());
        assertThat(snapshot.readOnly()).isTrue();
        assertThat(snapshot.keys())
                .containsEntry("is_a_snapshot", "true")
                .containsEntry("snapshot_of", vdi.uuid())
                .containsEntry("snapshot_time", "2026-01-02T03:04:05Z")
                .containsEntry("vdi-type", "user");
        assertThat(lifecycle.vdiStat(sr, vdi.uuid()).attachment()).isEqualTo(attachment);
        qemuIo(attachment.target(), "write -P 0x22 8M 1M");
        lifecycle.vdiDetach(sr, vdi.uuid());
        lifecycle.vdiDetach(sr, vdi.uuid());
        assertThat(lifecycle.vdiStat(sr, vdi.uuid()).attachment()).isNull();

        AllocationMap map = lifecycle.vdiMap(sr, vdi.uuid());
        assertThat(map.nonZeroExtents()).isEqualTo(ExtentSet.of(0, MIB).union(ExtentSet.of(8 * MIB, 9 * MIB)));
        assertThat(lifecycle.vdiDelta(sr, vdi.uuid(), snapshot.uuid())).isEqualTo(ExtentSet.of(8 * MIB, 9 * MIB));
        assertCode(() -> lifecycle.vdiAttach(sr, "no-such-uuid", false), ErrorCode.VDI_NOT_FOUND);
    }

    @Test
    void vdiDestroyIsIdempotentAndKeepsSnapshots() {
        VdiView vdi = disk("temp", 4 * MIB);
        VdiView snapshot = lifecycle.vdiSnapshot(sr, vdi.uuid());
        assertThat(lifecycle.vdiDestroy(sr, vdi.uuid())).isTrue();
        assertThat(lifecycle.vdiDestroy(sr, vdi.uuid())).isFalse();
        assertThat(lifecycle.vdiList(sr)).extracting(VdiView::uuid).containsExactly(snapshot.uuid());
        assertThat(lifecycle.vdiMap(sr, snapshot.uuid()).virtualSize()).isEqualTo(4 * MIB);
    }

    // ---- templates ----

    @Test
    void fileTemplateAllowsOnlyIntroduceCloneSnapshotForget() throws Exception {
        Path image = rawTemplate("base.img", 8 * MIB, 2 * MIB, (int) MIB, 0x7e);
        String uri = image.toUri().toString().replace("file:/", "file:///");
        VdiView template = lifecycle.vdiIntroduce(sr, uri, "", "golden image");
        assertThat(template.kind()).isEqualTo("template");
        assertThat(template.nameLabel()).isEqualTo("base.img");
        assertThat(template.originFormat()).isEqualTo("raw");
        assertThat(template.virtualSizeBytes()).isEqualTo(8 * MIB);
        assertThat(template.readOnly()).isTrue();
        assertThat(lifecycle.vdiIntroduce(sr, uri, "", "").uuid()).isEqualTo(template.uuid());

        String id = template.uuid();
        assertCode(() -> lifecycle.vdiDestroy(sr, id), ErrorCode.VDI_IS_TEMPLATE);
        assertCode(() -> lifecycle.vdiResize(sr, id, 16 * MIB), ErrorCode.VDI_IS_TEMPLATE);
        assertCode(() -> lifecycle.vdiAttach(sr, id, true), ErrorCode.VDI_IS_TEMPLATE);
        assertCode(() -> lifecycle.vdiDetach(sr, id), ErrorCode.VDI_IS_TEMPLATE);
        assertCode(() -> lifecycle.vdiMap(sr, id), ErrorCode.VDI_IS_TEMPLATE);
        assertCode(
                () -> lifecycle.vdiSet(sr, id, Optional.of("x"), Optional.empty(), Map.of(), Set.of()),
                ErrorCode.VDI_IS_TEMPLATE);

        VdiView snapshot = lifecycle.vdiSnapshot(sr, id);
        assertThat(snapshot.kind()).isEqualTo("template");
        assertThat(snapshot.uri()).isEqualTo(uri);

        VdiView clone = lifecycle.vdiClone(sr, id, Optional.of("vm disk"));
        assertThat(clone.kind()).isEqualTo("disk");
        assertThat(clone.parentUri()).isEqualTo(uri);
        assertThat(clone.virtualSizeBytes()).isEqualTo(8 * MIB);
        AllocationMap map = lifecycle.vdiMap(sr, clone.uuid());
        assertThat(map.nonZeroExtents()).isEqualTo(ExtentSet.of(2 * MIB, 3 * MIB));
        assertThat(map.localExtents().isEmpty()).isTrue();
        Attachment attachment = lifecycle.vdiAttach(sr, clone.uuid(), false);
        assertThat(qemuIo(attachment.target(), "read -P 0x7e 2M 1M")).doesNotContain("fail");
        qemuIo(attachment.target(), "write -P 0x01 0 64k");
        lifecycle.vdiDetach(sr, clone.uuid());
        assertThat(lifecycle.vdiMap(sr, clone.uuid()).localExtents()).isEqualTo(ExtentSet.of(0, 64 << 10));

        assertThat(lifecycle.vdiForget(sr, id)).isTrue();
        assertThat(lifecycle.vdiForget(sr, id)).isFalse();
        assertCode(() -> lifecycle.vdiForget(sr, clone.uuid()), ErrorCode.INVALID_ARGUMENT);
        assertThat(lifecycle.vdiStat(sr, clone.uuid()).parentUri()).isEqualTo(uri);
    }

    @Test
    void nbdTemplateIsReadThroughItsUri() throws Exception {
        Tools.require("qemu-nbd", "qemu-utils");
        Path image = rawTemplate("nbd.img", 4 * MIB, 0, (int) MIB, 0x33);
        Path socket = workDir.resolve("t.sock");
        Process server = new ProcessBuilder(
                        "qemu-nbd",
                        "--persistent",
                        "--read-only",
                        "--shared=8",
                        "-f",
                        "raw",
                        "--socket=" + socket,
                        image.toString())
                .redirectErrorStream(true)
                .start();
        try {
            waitFor(socket);
            String uri = "nbd+unix:///?socket=" + socket;
            VdiView template = lifecycle.vdiIntroduce(sr, uri, "nbd template", "");
            assertThat(template.virtualSizeBytes()).isEqualTo(4 * MIB);
            VdiView clone = lifecycle.vdiClone(sr, template.uuid(), Optional.empty());
            assertThat(clone.nameLabel()).isEqualTo("nbd template");
            assertThat(lifecycle.vdiMap(sr, clone.uuid()).nonZeroExtents().contains(0, MIB))
                    .isTrue();
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void httpTemplateIsServedByNbdkitCurlThroughTheBundledScheme() throws Exception {
        Tools.require("nbdkit", "nbdkit");
        Path image = rawTemplate("http.img", 4 * MIB, MIB, (int) MIB, 0x44);
        com.sun.net.httpserver.HttpServer server = RangeFileServer.start(image);
        try {
            String uri = "http://127.0.0.1:" + server.getAddress().getPort() + "/http.img";
            VdiView template = lifecycle.vdiIntroduce(sr, uri, "", "");
            assertThat(template.virtualSizeBytes()).isEqualTo(4 * MIB);
            assertThat(template.nameLabel()).isEqualTo("http.img");
            VdiView clone = lifecycle.vdiClone(sr, template.uuid(), Optional.empty());
            Attachment attachment = lifecycle.vdiAttach(sr, clone.uuid(), false);
            assertThat(qemuIo(attachment.target(), "read -P 0x44 1M 1M")).doesNotContain("fail");
            lifecycle.vdiDetach(sr, clone.uuid());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void unknownSchemeFailsClearly() {
        assertThatThrownBy(() -> lifecycle.vdiIntroduce(sr, "gopher://example/x.img", "", ""))
                .isInstanceOfSatisfying(ThinsrException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED);
                    assertThat(e.getMessage()).contains("no handler for URI scheme 'gopher'");
                });
        assertCode(() -> lifecycle.vdiIntroduce(sr, "no scheme here", "", ""), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> lifecycle.vdiIntroduce(sr, "file:///no/such/file", "", ""), ErrorCode.VDI_NOT_FOUND);
    }

    @Test
    void schemeScriptGetsTheUriAsOneArgumentWithoutAShell() throws Exception {
        Path schemes = workDir.resolve("schemes");
        Files.createDirectories(schemes);
        Path log = workDir.resolve("args.log");
        Path image = rawTemplate("custom.img", MIB, 0, 4096, 1);
        Path script = schemes.resolve("custom");
        Files.writeString(
                script,
                "#!/bin/sh\nprintf '%s|' \"$@\" >> '" + log + "'\necho >> '" + log + "'\n"
                        + "[ \"$1\" = attach ] && echo '" + image + "'\nexit 0\n");
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        String uri = "custom://host/$(touch%20pwned)/x;y";
        VdiView template = lifecycle.vdiIntroduce(sr, uri, "custom", "");
        assertThat(template.virtualSizeBytes()).isEqualTo(MIB);
        assertThat(Files.readAllLines(log)).containsExactly("attach|" + uri + "|", "detach|" + uri + "|");
        assertThat(workDir.resolve("pwned")).doesNotExist();
    }

    private static void waitFor(Path socket) throws InterruptedException {
        for (int i = 0; i < 100 && !Files.exists(socket); i++) {
            Thread.sleep(50);
        }
        assertThat(socket).exists();
    }

    static String qemuIo(String target, String command) throws Exception {
        Tools.require("qemu-io", "qemu-utils");
        Process process = new ProcessBuilder("qemu-io", "-f", "raw", "-c", command, target)
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output).doesNotContain("verification failed");
        return output;
    }

    /** A minimal HTTP/1.1 file server with HEAD and single byte-range GET, for nbdkit's curl plugin. */
    static final class RangeFileServer {
        private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");

        private RangeFileServer() {}

        static com.sun.net.httpserver.HttpServer start(Path file) throws IOException {
            com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                    new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 16);
            server.createContext("/", exchange -> {
                long size = Files.size(file);
                exchange.getResponseHeaders().add("Accept-Ranges", "bytes");
                String range = exchange.getRequestHeaders().getFirst("Range");
                long start = 0;
                long end = size - 1;
                int status = 200;
                if (range != null) {
                    Matcher matcher = RANGE.matcher(range);
                    if (matcher.matches()) {
                        start = Long.parseLong(matcher.group(1));
                        end = matcher.group(2).isEmpty()
                                ? size - 1
                                : Math.min(Long.parseLong(matcher.group(2)), size - 1);
                        status = 206;
                        exchange.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + end + "/" + size);
                    }
                }
                long length = end - start + 1;
                if (exchange.getRequestMethod().equals("HEAD")) {
                    exchange.getResponseHeaders().add("Content-Length", Long.toString(length));
                    exchange.sendResponseHeaders(status, -1);
                    exchange.close();
                    return;
                }
                exchange.sendResponseHeaders(status, length);
                try (FileChannel channel = FileChannel.open(file);
                        OutputStream out = exchange.getResponseBody()) {
                    ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
                    long position = start;
                    while (position <= end) {
                        buffer.clear().limit((int) Math.min(buffer.capacity(), end + 1 - position));
                        int read = channel.read(buffer, position);
                        if (read <= 0) {
                            break;
                        }
                        out.write(buffer.array(), 0, read);
                        position += read;
                    }
                }
            });
            server.start();
            return server;
        }
    }
}
