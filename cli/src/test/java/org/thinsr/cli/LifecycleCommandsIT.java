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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sr-* and vdi-* commands run as a real process from the shaded jar, on a fresh home directory. */
class LifecycleCommandsIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path workDir;

    record Result(int status, String out, String err) {}

    private Result thinsr(String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> argv = new ArrayList<>(List.of(java, "-jar", System.getProperty("thinsr.jar")));
        argv.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(argv);
        builder.environment().put("XDG_DATA_HOME", workDir.resolve("data").toString());
        builder.environment().put("XDG_RUNTIME_DIR", workDir.resolve("run").toString());
        builder.redirectError(workDir.resolve("stderr").toFile());
        builder.redirectInput(new File("/dev/null"));
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Result(process.exitValue(), out, Files.readString(workDir.resolve("stderr")));
    }

    @Test
    void freshMachineGetsADefaultSrAndTheFullDiskLifecycleWorks() throws Exception {
        Result created = thinsr("vdi-create", "--name", "my disk", "--size", "16M", "--json");
        assertThat(created.status()).as(created.err()).isZero();
        JsonNode vdi = JSON.readTree(created.out());
        String uuid = vdi.path("uuid").asText();
        assertThat(vdi.path("volume").asText()).isEqualTo("my_disk");
        assertThat(vdi.path("virtualSizeBytes").asLong()).isEqualTo(16 << 20);
        assertThat(workDir.resolve("data/thinsr/default-sr/my_disk.qcow2")).isRegularFile();

        Result list = thinsr("vdi-list");
        assertThat(list.out()).isEqualTo(uuid + " disk 16777216 my_disk my disk\n");

        Result attach = thinsr("vdi-attach", uuid);
        assertThat(attach.out().strip()).startsWith("nbd+unix:///my_disk?socket=");
        Result snapshot = thinsr("vdi-snapshot", uuid, "--json");
        JsonNode snap = JSON.readTree(snapshot.out());
        assertThat(snap.path("keys").path("snapshot_of").asText()).isEqualTo(uuid);
        assertThat(thinsr("vdi-detach", uuid).status()).isZero();
        Result byLabel = thinsr("vdi-stat", "my disk", "--json");
        assertThat(JSON.readTree(byLabel.out()).path("uuid").asText())
                .as("a label names the disk over its snapshots")
                .isEqualTo(uuid);

        Result map = thinsr("vdi-map", uuid, "--json");
        assertThat(JSON.readTree(map.out()).path("virtual_size").asLong()).isEqualTo(16 << 20);
        Result delta = thinsr("vdi-map", uuid, "--base", snap.path("uuid").asText());
        assertThat(delta.status()).isZero();
        assertThat(delta.out()).isEmpty();

        Result shrink = thinsr("vdi-resize", uuid, "1M");
        assertThat(shrink.status()).isEqualTo(5);
        assertThat(shrink.err()).startsWith("thinsr: VDI_SHRINK_REFUSED: ");
        assertThat(thinsr("vdi-resize", uuid, "32M").status()).isZero();

        Result set = thinsr("vdi-set", uuid, "--key", "vdi-type=user", "--name", "renamed", "--json");
        assertThat(JSON.readTree(set.out()).path("keys").path("vdi-type").asText())
                .isEqualTo("user");

        assertThat(thinsr("vdi-resize", "renamed", "48M").status()).isZero();
        assertThat(JSON.readTree(thinsr("vdi-stat", "renamed", "--json").out())
                        .path("virtualSizeBytes")
                        .asLong())
                .isEqualTo(48 << 20);
        Result unknown = thinsr("vdi-stat", "no such disk");
        assertThat(unknown.status()).isEqualTo(4);
        assertThat(unknown.err()).startsWith("thinsr: VDI_NOT_FOUND: ");

        Result stat = thinsr("sr-stat", "--json");
        assertThat(JSON.readTree(stat.out()).path("vdiCount").asInt()).isEqualTo(2);
        Result srs = thinsr("sr-list");
        assertThat(srs.out()).contains(workDir.resolve("data/thinsr/default-sr").toString());

        Result notEmpty = thinsr(
                "sr-destroy", "--sr", workDir.resolve("data/thinsr/default-sr").toString());
        assertThat(notEmpty.status()).isEqualTo(5);
        assertThat(notEmpty.err()).startsWith("thinsr: SR_NOT_EMPTY: ");
        assertThat(thinsr("vdi-destroy", uuid).status()).isZero();
        Result again = thinsr("vdi-destroy", uuid);
        assertThat(again.status()).isZero();
        assertThat(again.err()).contains("does not exist");
    }

    @Test
    void explicitSrTemplatesAndErrors() throws Exception {
        Path sr = workDir.resolve("sr");
        Result created = thinsr("sr-create", "--sr", sr.toString(), "--name", "explicit");
        assertThat(created.status()).as(created.err()).isZero();
        assertThat(thinsr("sr-create", "--sr", sr.toString()).err()).startsWith("thinsr: SR_EXISTS: ");
        assertThat(thinsr("sr-probe", "--sr", sr.toString()).out()).contains("explicit");

        Path image = workDir.resolve("golden.raw");
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(4 << 20);
        }
        Result template = thinsr("vdi-introduce", "--sr", sr.toString(), "file://" + image, "--json");
        assertThat(template.status()).as(template.err()).isZero();
        String templateUuid = JSON.readTree(template.out()).path("uuid").asText();
        Result refused = thinsr("vdi-resize", "--sr", sr.toString(), templateUuid, "8M");
        assertThat(refused.status()).isEqualTo(5);
        assertThat(refused.err()).startsWith("thinsr: VDI_IS_TEMPLATE: ");
        Result clone = thinsr("vdi-clone", "--sr", sr.toString(), templateUuid, "--name", "vm", "--json");
        assertThat(JSON.readTree(clone.out()).path("parentUri").asText()).isEqualTo("file://" + image);

        Result unknown = thinsr("vdi-introduce", "--sr", sr.toString(), "gopher://host/x");
        assertThat(unknown.status()).isEqualTo(6);
        assertThat(unknown.err()).contains("no handler for URI scheme 'gopher'");

        Result badSize = thinsr("vdi-create", "--sr", sr.toString(), "--size", "lots");
        assertThat(badSize.status()).isEqualTo(2);

        assertThat(thinsr("sr-destroy", "--sr", sr.toString(), "--force").status())
                .isZero();
        assertThat(sr).doesNotExist();
    }

    @Test
    void pluginInstallWritesWrappersThatExecThinsrWithoutEval() throws Exception {
        Path dir = workDir.resolve("plugin");
        Result install = thinsr("plugin", "install", dir.toString(), "--command", "/opt/thinsr it's/bin/thinsr");
        assertThat(install.status()).as(install.err()).isZero();
        String wrapper = Files.readString(dir.resolve("Volume.snapshot"));
        assertThat(wrapper).isEqualTo("""
                        #!/bin/sh
                        # thinsr SMAPIv3 wrapper: written by 'thinsr plugin install'
                        exec '/opt/thinsr it'\\''s/bin/thinsr' plugin call 'Volume.snapshot' "$@"
                        """);
        assertThat(dir.resolve("Datapath.attach")).isExecutable();
    }
}
