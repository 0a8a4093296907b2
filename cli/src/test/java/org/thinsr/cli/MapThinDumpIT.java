package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinDelta;
import org.thinsr.allocmap.ThinDeltaParser;

/**
 * The built {@code thinsr} jar as a real process on a real {@code thin_dump} (of metadata made with
 * {@code thin_restore}) and against the real {@code thin_delta} of the same metadata.
 */
class MapThinDumpIT {
    private static final long BLOCK = 64 * 1024;
    private static final long TIMEOUT_SECONDS = 120;

    /** Device 1: blocks [0,4) and 10, 11, 40; device 2: a snapshot with block 10 remapped and 50 added. */
    private static final String POOL = """
            <superblock uuid="" time="1" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="1000">
              <device dev_id="1" mapped_blocks="7" transaction="0" creation_time="0" snap_time="1">
                <range_mapping origin_begin="0" data_begin="100" length="4" time="0"/>
                <single_mapping origin_block="10" data_block="200" time="0"/>
                <single_mapping origin_block="11" data_block="201" time="0"/>
                <single_mapping origin_block="40" data_block="300" time="0"/>
              </device>
              <device dev_id="2" mapped_blocks="7" transaction="0" creation_time="1" snap_time="1">
                <range_mapping origin_begin="0" data_begin="100" length="4" time="0"/>
                <single_mapping origin_block="10" data_block="400" time="1"/>
                <single_mapping origin_block="11" data_block="201" time="0"/>
                <single_mapping origin_block="50" data_block="401" time="1"/>
              </device>
            </superblock>
            """;

    record Result(int status, String out, String err) {}

    private static String require(String tool, String debianPackage) {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return Path.of(dir, tool).toString();
            }
        }
        return fail(tool + " is not installed: apt-get install " + debianPackage);
    }

    private static Result run(List<String> command, byte[] stdin) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command);
        if (stdin == null) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        Process process = builder.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outReader = Thread.ofVirtual().start(() -> copy(process.getInputStream(), out));
        Thread errReader = Thread.ofVirtual().start(() -> copy(process.getErrorStream(), err));
        if (stdin != null) {
            try (OutputStream in = process.getOutputStream()) {
                in.write(stdin);
            }
        }
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail(command + " timed out");
        }
        outReader.join();
        errReader.join();
        return new Result(
                process.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<String> thinsr(String... args) {
        String jar = System.getProperty("thinsr.jar");
        assertThat(jar).as("system property thinsr.jar (set by the cli pom)").isNotNull();
        assertThat(Path.of(jar)).as("the shaded jar, built in package").exists();
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-jar");
        command.add(jar);
        command.addAll(List.of(args));
        return command;
    }

    private static Path realDump(Path dir) throws IOException, InterruptedException {
        Path xml = dir.resolve("pool.xml");
        Files.writeString(xml, POOL);
        Path metadata = dir.resolve("meta.bin");
        try (RandomAccessFile file = new RandomAccessFile(metadata.toFile(), "rw")) {
            file.setLength(8L << 20);
        }
        Result restore = run(
                List.of(
                        require("thin_restore", "thin-provisioning-tools"),
                        "-i",
                        xml.toString(),
                        "-o",
                        metadata.toString()),
                null);
        assertThat(restore.status()).as(restore.err()).isZero();
        return metadata;
    }

    @Test
    void mapThinDumpOfARealThinDumpOnStdinPrintsTheMappedExtents(@TempDir Path dir) throws Exception {
        Path metadata = realDump(dir);
        Result dump = run(List.of(require("thin_dump", "thin-provisioning-tools"), metadata.toString()), null);
        assertThat(dump.status()).as(dump.err()).isZero();
        Result result = run(
                thinsr("map", "thin-dump", "-", "--device", "1", "--size", Long.toString(64 * BLOCK)),
                dump.out().getBytes(StandardCharsets.UTF_8));
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(result.out().lines())
                .containsExactly(
                        "0 " + 4 * BLOCK + " data local",
                        4 * BLOCK + " " + 6 * BLOCK + " hole local",
                        10 * BLOCK + " " + 2 * BLOCK + " data local",
                        12 * BLOCK + " " + 28 * BLOCK + " hole local",
                        40 * BLOCK + " " + BLOCK + " data local",
                        41 * BLOCK + " " + 23 * BLOCK + " hole local");
    }

    @Test
    void mapDeltaChangesAreWhatRealThinDeltaReports(@TempDir Path dir) throws Exception {
        Path metadata = realDump(dir);
        Path dumpFile = dir.resolve("dump.xml");
        Result dump = run(List.of(require("thin_dump", "thin-provisioning-tools"), metadata.toString()), null);
        assertThat(dump.status()).as(dump.err()).isZero();
        Files.writeString(dumpFile, dump.out());
        Result delta = run(
                List.of(
                        require("thin_delta", "thin-provisioning-tools"),
                        "--snap1",
                        "1",
                        "--snap2",
                        "2",
                        metadata.toString()),
                null);
        assertThat(delta.status()).as(delta.err()).isZero();
        ThinDelta real = ThinDeltaParser.parse(
                new ByteArrayInputStream(delta.out().getBytes(StandardCharsets.UTF_8)), "thin_delta");
        Result result = run(
                thinsr(
                        "map",
                        "delta",
                        dumpFile.toString(),
                        "--snap1",
                        "1",
                        "--snap2",
                        "2",
                        "--size",
                        Long.toString(64 * BLOCK)),
                null);
        assertThat(result.status()).as(result.err()).isZero();
        ExtentSet.Builder local = ExtentSet.builder();
        for (String line : result.out().lines().toList()) {
            String[] fields = line.split(" ", -1);
            if (fields[3].equals("local")) {
                local.addLength(Long.parseLong(fields[0]), Long.parseLong(fields[1]));
            }
        }
        assertThat(local.build()).isEqualTo(real.changedExtents());
        assertThat(real.changedExtents().isEmpty()).isFalse();
    }

    @Test
    void hostileXmlExitsThreeWithOneLineAndNoStackTrace(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("secret");
        Files.writeString(secret, "top-secret");
        String evil = "<?xml version=\"1.0\"?>\n<!DOCTYPE superblock [<!ENTITY x SYSTEM \"" + secret.toUri()
                + "\">]>\n<superblock uuid=\"&x;\" time=\"0\" transaction=\"0\" data_block_size=\"128\""
                + " nr_data_blocks=\"0\"/>\n";
        String truncated = POOL.substring(0, POOL.indexOf("<single_mapping origin_block=\"40\""));
        for (String input : List.of(evil, truncated, POOL.replace("range_mapping", "mystery_mapping"))) {
            Result result = run(
                    thinsr("map", "thin-dump", "-", "--device", "1", "--size", "1024"),
                    input.getBytes(StandardCharsets.UTF_8));
            assertThat(result.status()).as(result.err()).isEqualTo(3);
            assertThat(result.err().lines()).hasSize(1);
            assertThat(result.err())
                    .startsWith("thinsr: INVALID_XML: ")
                    .doesNotContain("top-secret")
                    .doesNotContain("\tat ");
            assertThat(result.out()).isEmpty();
        }
    }
}
