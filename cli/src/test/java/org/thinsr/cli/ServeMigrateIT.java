package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped jar as a person runs it: {@code thinsr serve} on one SR, {@code thinsr migrate} from
 * another, {@code export}/{@code import} through {@code --url}, and the exit statuses of failures.
 */
class ServeMigrateIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern URL = Pattern.compile("(http://127\\.0\\.0\\.1:[0-9]+/)");

    @TempDir
    Path dir;

    private Process server;
    private String base;

    record Result(int status, String stdout, String stderr) {}

    private Result thinsr(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-jar",
                System.getProperty("thinsr.jar", "target/thinsr.jar")));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put("XDG_DATA_HOME", dir.resolve("home").toString());
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process process =
                builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(process.waitFor(180, TimeUnit.SECONDS))
                .as("thinsr " + String.join(" ", args))
                .isTrue();
        return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    @BeforeEach
    void startServer() throws Exception {
        Path sr = dir.resolve("sr-b");
        assertThat(thinsr("sr-create", "--sr", sr.toString()).status()).isZero();
        ProcessBuilder builder = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-jar",
                System.getProperty("thinsr.jar", "target/thinsr.jar"),
                "serve",
                "--sr",
                sr.toString(),
                "--listen",
                "127.0.0.1:0");
        builder.environment().put("XDG_DATA_HOME", dir.resolve("home").toString());
        server = builder.redirectError(dir.resolve("serve.log").toFile()).start();
        BufferedReader lines =
                new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        String first = lines.readLine();
        assertThat(first).as("serve's first line").isNotNull().contains("thinsr serving");
        Matcher matcher = URL.matcher(first);
        assertThat(matcher.find()).isTrue();
        base = matcher.group(1);
        String examples = lines.readLine() + lines.readLine() + lines.readLine() + lines.readLine();
        assertThat(examples).contains("curl").contains("-T").contains("format=vhd");
    }

    @AfterEach
    void stopServer() throws Exception {
        server.destroy();
        assertThat(server.waitFor(30, TimeUnit.SECONDS)).isTrue();
        // SIGTERM closes the store first: nothing that works on this test's SRs is left running
        // (an exited daemon has no command line while it waits to be reaped)
        List<String> leftovers = ProcessHandle.allProcesses()
                .filter(process -> process.info()
                        .commandLine()
                        .map(line -> line.contains(dir.toString()))
                        .orElse(false))
                .map(process ->
                        process.pid() + " " + process.info().commandLine().orElse(""))
                .toList();
        assertThat(leftovers).as("processes left running").isEmpty();
    }

    @Test
    void migrateToAServerThenExportAndImportThroughIt() throws Exception {
        Path srA = dir.resolve("sr-a");
        assertThat(thinsr("sr-create", "--sr", srA.toString()).status()).isZero();
        assertThat(thinsr("vdi-create", "--sr", srA.toString(), "--name", "web", "--size", "32M")
                        .status())
                .isZero();
        byte[] content = new byte[32 << 20];
        Random random = new Random(21);
        for (int mib = 0; mib < 32; mib += 5) {
            byte[] data = new byte[500_000];
            random.nextBytes(data);
            System.arraycopy(data, 0, content, mib << 20, data.length);
        }
        Path image = dir.resolve("web.raw");
        Files.write(image, content);
        Result imported = thinsr("import", "--sr", srA.toString(), "web", image.toString());
        assertThat(imported.status()).as(imported.stderr()).isZero();

        Result migrated = thinsr("migrate", "--sr", srA.toString(), "web", "--to", base, "--verify", "--json");
        assertThat(migrated.status()).as(migrated.stderr()).isZero();
        List<String> events = migrated.stdout().lines().toList();
        JsonNode report = JSON.readTree(events.get(events.size() - 1));
        assertThat(report.get("verified").asBoolean()).isTrue();
        assertThat(report.get("sentBytes").asLong())
                .isEqualTo(report.get("allocatedBytes").asLong());
        assertThat(report.get("sentBytes").asLong()).isLessThan(content.length);
        assertThat(JSON.readTree(events.get(0)).get("event").asText()).isEqualTo("pass");

        Path back = dir.resolve("back.raw");
        Result exported = thinsr("export", "web", "--url", base, "--format", "raw", "-o", back.toString());
        assertThat(exported.status()).as(exported.stderr()).isZero();
        assertThat(Files.mismatch(back, image)).isEqualTo(-1L);

        Path vhd = dir.resolve("web.vhd");
        assertThat(thinsr("export", "web", "--url", base, "--format", "vhd", "-o", vhd.toString())
                        .status())
                .isZero();
        byte[] corrupt = Files.readAllBytes(vhd);
        corrupt[corrupt.length - 512 + 70] ^= 1;
        corrupt[70] ^= 1;
        Path bad = dir.resolve("bad.vhd");
        Files.write(bad, corrupt);
        Result rejected = thinsr("import", "web", bad.toString(), "--url", base);
        assertThat(rejected.status()).isEqualTo(3);
        assertThat(rejected.stderr()).startsWith("thinsr: CORRUPT_IMAGE: ").hasLineCount(1);
        assertThat(thinsr("export", "web", "--url", base, "--format", "raw", "-o", back.toString())
                        .status())
                .isZero();
        assertThat(Files.mismatch(back, image))
                .as("unchanged after the corrupt import")
                .isEqualTo(-1L);
    }

    @Test
    void migrateIntoTheServersXapiImportRawVdi() throws Exception {
        Path srA = dir.resolve("sr-a");
        assertThat(thinsr("sr-create", "--sr", srA.toString()).status()).isZero();
        byte[] content = new byte[16 << 20];
        Random random = new Random(22);
        for (int mib = 1; mib < 16; mib += 3) {
            byte[] data = new byte[300_000];
            random.nextBytes(data);
            System.arraycopy(data, 0, content, mib << 20, data.length);
        }
        Path image = dir.resolve("db.raw");
        Files.write(image, content);
        assertThat(thinsr("vdi-create", "--sr", srA.toString(), "--name", "db", "--size", "16M")
                        .status())
                .isZero();
        Result imported = thinsr("import", "--sr", srA.toString(), "db", image.toString());
        assertThat(imported.status()).as(imported.stderr()).isZero();
        String vdi;
        try (java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
            java.net.http.HttpResponse<String> created = http.send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "vdis"))
                            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                                    "{\"name_label\":\"xapi target\",\"virtual_size\":" + content.length + "}"))
                            .build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
            vdi = JSON.readTree(created.body()).get("id").asText();
        }
        String to = base + "import_raw_vdi?vdi=" + vdi;

        Result noVdi = thinsr(
                "migrate", "--sr", srA.toString(), "db", "--to", base + "import_raw_vdi?session_id=OpaqueRef:s3cret");
        assertThat(noVdi.status()).isEqualTo(2);
        assertThat(noVdi.stderr())
                .startsWith("thinsr: USAGE: --to: actual '" + base + "import_raw_vdi?session_id=…': missing vdi=")
                .doesNotContain("s3cret")
                .hasLineCount(1);
        Result verify = thinsr("migrate", "--sr", srA.toString(), "db", "--to", to, "--verify");
        assertThat(verify.status()).isEqualTo(2);
        assertThat(verify.stderr())
                .startsWith("thinsr: USAGE: --verify: xapi /import_raw_vdi has no checksum endpoint");
        Result resume = thinsr("migrate", "--sr", srA.toString(), "db", "--to", to, "--resume");
        assertThat(resume.status()).isEqualTo(2);
        assertThat(resume.stderr()).startsWith("thinsr: USAGE: --keep-partial/--resume: ");

        Result migrated = thinsr("migrate", "--sr", srA.toString(), "db", "--to", to, "--connections", "8", "--json");
        assertThat(migrated.status()).as(migrated.stderr()).isZero();
        assertThat(migrated.stderr()).contains("--connections 8 is ignored");
        List<String> events = migrated.stdout().lines().toList();
        JsonNode report = JSON.readTree(events.get(events.size() - 1));
        assertThat(report.get("destinationVdi").asText()).isEqualTo(vdi);
        assertThat(report.get("sentBytes").asLong())
                .isEqualTo(report.get("allocatedBytes").asLong())
                .isLessThan(content.length);
        Path back = dir.resolve("db-back.raw");
        Result exported = thinsr("export", vdi, "--url", base, "--format", "raw", "-o", back.toString());
        assertThat(exported.status()).as(exported.stderr()).isZero();
        assertThat(Files.mismatch(back, image)).isEqualTo(-1L);

        Result missing =
                thinsr("migrate", "--sr", srA.toString(), "db", "--to", base + "import_raw_vdi?vdi=no-such-vdi");
        assertThat(missing.status()).isEqualTo(4);
        assertThat(missing.stderr())
                .startsWith("thinsr: VDI_NOT_FOUND: PUT " + base + "import_raw_vdi?vdi=no-such-vdi answered 404: ")
                .hasLineCount(1);
    }

    @Test
    void failuresExitWithTheirStatusAndOneLine() throws Exception {
        Result missing = thinsr(
                "export", "no-such-vdi", "--url", base, "-o", dir.resolve("x").toString());
        assertThat(missing.status()).isEqualTo(4);
        assertThat(missing.stderr()).startsWith("thinsr: VDI_NOT_FOUND: ");
        assertThat(dir.resolve("x")).doesNotExist();
        assertThat(dir.resolve("x.part")).doesNotExist();

        Result open = thinsr("serve", "--listen", "0.0.0.0:0");
        assertThat(open.status()).isEqualTo(9);
        assertThat(open.stderr()).contains("--token-file");

        Result badTarget = thinsr("migrate", "web", "--to", "ftp://host/x");
        assertThat(badTarget.status()).isEqualTo(2);
    }
}
