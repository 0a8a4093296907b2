package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code thinsr map nbd}, {@code thinsr map qemu} and {@code thinsr qmp} against real qemu tools. */
class QemuMapAndQmpCommandsIT {
    static Path directory;
    static Path top;

    static void require(String program, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator, -1)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return;
            }
        }
        throw new AssertionError(program + " is not installed: install the Debian package " + debianPackage);
    }

    static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            process.destroyForcibly();
            throw new AssertionError(
                    String.join(" ", command) + " failed: " + new String(output, StandardCharsets.UTF_8));
        }
        return new String(output, StandardCharsets.UTF_8);
    }

    static Process background(Path socket, String... command) throws Exception {
        Files.deleteIfExists(socket);
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(directory.resolve(socket.getFileName() + ".log").toFile())
                .start();
        for (int i = 0; i < 500 && !Files.exists(socket); i++) {
            Thread.sleep(10);
        }
        assertThat(socket).as("socket of %s", List.of(command)).exists();
        return process;
    }

    @BeforeAll
    static void image() throws Exception {
        require("qemu-img", "qemu-utils");
        require("qemu-io", "qemu-utils");
        require("qemu-nbd", "qemu-utils");
        require("qemu-storage-daemon", "qemu-system-common");
        require("nbdinfo", "libnbd-bin");
        directory = Files.createDirectories(
                Path.of("target", "it", "QemuMapAndQmpCommandsIT").toAbsolutePath());
        Path base = directory.resolve("base.qcow2");
        top = directory.resolve("top.qcow2");
        Files.deleteIfExists(base);
        Files.deleteIfExists(top);
        run("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "32M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", "-c", "write -P 0x12 20M 2M", base.toString());
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", top.toString());
        run(
                "qemu-io",
                "-f",
                "qcow2",
                "-c",
                "write -P 0x22 4M 1M",
                "-c",
                "write -z 8M 1M",
                "-c",
                "write -P 0x23 21M 64k",
                top.toString());
    }

    @Test
    void mapQemuGivesTheSameMapThroughItsOwnDaemonAndThroughQemuImg() {
        MainTest.Result daemon = MainTest.run("map", "qemu", top.toString());
        MainTest.Result qemuImg = MainTest.run("map", "qemu", "--method", "qemu_img", "-f", "qcow2", top.toString());
        assertThat(daemon.status()).as(daemon.err()).isZero();
        assertThat(qemuImg.status()).as(qemuImg.err()).isZero();
        assertThat(daemon.out()).isEqualTo(qemuImg.out());
        assertThat(daemon.out()).contains(" data origin", " data local", " zero local", " hole local");
        MainTest.Result json = MainTest.run("map", "qemu", top.toString(), "--json");
        assertThat(json.out()).startsWith("{\"virtual_size\":33554432,");
    }

    @Test
    void mapNbdBaseAllocationPrintsWhatNbdinfoSees() throws Exception {
        Path socket = directory.resolve("nbd.sock");
        Process server = background(
                socket, "qemu-nbd", "-r", "-f", "qcow2", "-t", "-A", "-k", socket.toString(), top.toString());
        try {
            String uri = "nbd+unix:///?socket=" + socket;
            MainTest.Result ours = MainTest.run("map", "nbd", uri, "--context", "base:allocation");
            assertThat(ours.status()).as(ours.err()).isZero();
            // nbdinfo's flags become states: 0 data, 2 zero, 3 hole; equal neighbours merge
            List<String> expected = new ArrayList<>();
            long runStart = 0;
            long runEnd = 0;
            String runState = null;
            for (String line : run("nbdinfo", "--map", uri).split("\n", -1)) {
                if (line.isBlank()) {
                    continue;
                }
                String[] fields = line.strip().split("\\s+", 4);
                long start = Long.parseLong(fields[0]);
                long length = Long.parseLong(fields[1]);
                String state =
                        switch (Integer.parseInt(fields[2]) & 3) {
                            case 2 -> "zero";
                            case 3 -> "hole";
                            default -> "data";
                        };
                if (state.equals(runState)) {
                    runEnd = start + length;
                    continue;
                }
                if (runState != null) {
                    expected.add(runStart + " " + (runEnd - runStart) + " " + runState + " local");
                }
                runStart = start;
                runEnd = start + length;
                runState = state;
            }
            expected.add(runStart + " " + (runEnd - runStart) + " " + runState + " local");
            assertThat(ours.out().lines().toList()).isEqualTo(expected);
            MainTest.Result missing = MainTest.run("map", "nbd", uri, "--context", "qemu:dirty-bitmap:nope");
            assertThat(missing.status()).isEqualTo(6);
            assertThat(missing.err()).startsWith("thinsr: UNSUPPORTED: ");
        } finally {
            server.destroy();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void qmpPrintsTheReplyAsJsonAndQemuErrorsAsPeerErrors() throws Exception {
        Path socket = directory.resolve("qmp.sock");
        Process daemon = background(
                socket,
                "qemu-storage-daemon",
                "--chardev",
                "socket,id=m,path=" + socket + ",server=on,wait=off",
                "--monitor",
                "chardev=m");
        try {
            MainTest.Result version = MainTest.run("qmp", socket.toString(), "query-version");
            assertThat(version.status()).as(version.err()).isZero();
            JsonNode reply = new ObjectMapper().readTree(version.out());
            JsonNode qemu = reply.path("qemu");
            assertThat(run("qemu-storage-daemon", "--version"))
                    .contains("version " + qemu.path("major").asInt() + "."
                            + qemu.path("minor").asInt() + "."
                            + qemu.path("micro").asInt());
            MainTest.Result error = MainTest.run("qmp", socket.toString(), "blockdev-del", "{\"node-name\":\"nope\"}");
            assertThat(error.status()).isEqualTo(7);
            assertThat(error.err())
                    .startsWith("thinsr: PEER_ERROR: ")
                    .contains("GenericError")
                    .contains("nope");
            MainTest.Result usage = MainTest.run("qmp", socket.toString(), "query-jobs", "[1]");
            assertThat(usage.status()).isEqualTo(2);
        } finally {
            daemon.destroy();
            daemon.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
