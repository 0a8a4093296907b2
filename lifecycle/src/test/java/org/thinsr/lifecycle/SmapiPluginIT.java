package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SMAPIv3 wrappers invoked exactly as xapi-storage-script does (xapi.md §5.1): the executable
 * named after the method, the single argument {@code --json}, the named arguments as a JSON object
 * on stdin; exit 0 with the bare result on stdout, or non-zero with {@code {code, params,
 * backtrace}}.
 */
class SmapiPluginIT {
    @TempDir
    Path workDir;

    private Path volumeDir;
    private Path datapathDir;

    record Reply(int status, JsonNode json, String raw) {}

    @BeforeEach
    void install() throws Exception {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-storage-daemon", "qemu-system-common");
        volumeDir = workDir.resolve("volume").resolve("org.thinsr");
        datapathDir = workDir.resolve("datapath").resolve(SmapiPlugin.DATAPATH_SCHEME);
        String java = ProcessHandle.current().info().command().orElse("java");
        List<Path> written = PluginInstaller.install(
                volumeDir,
                datapathDir,
                List.of(
                        java,
                        "-Xshare:auto",
                        "-XX:TieredStopAtLevel=1",
                        "--enable-native-access=ALL-UNNAMED", // as bin/thinsr: statx and friends over FFM
                        "-cp",
                        System.getProperty("java.class.path"),
                        PluginMain.class.getName()));
        assertThat(written).hasSize(SmapiPlugin.VOLUME_METHODS.size() + SmapiPlugin.DATAPATH_METHODS.size());
        assertThat(Files.readString(volumeDir.resolve("SR.create")))
                .startsWith("#!/bin/sh\n")
                .contains("plugin call 'SR.create' \"$@\"")
                .doesNotContain("eval");
    }

    private Reply invoke(Path directory, String method, String argumentsJson) throws Exception {
        Path script = directory.resolve(method);
        assertThat(Files.isExecutable(script)).as("%s is executable", script).isTrue();
        ProcessBuilder builder = new ProcessBuilder(script.toString(), "--json");
        Map<String, String> environment = builder.environment();
        environment.put("XDG_DATA_HOME", workDir.resolve("data").toString());
        environment.put("XDG_RUNTIME_DIR", workDir.resolve("run").toString());
        Process process = builder.start();
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write(argumentsJson.getBytes(StandardCharsets.UTF_8));
        }
        String stdout = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(stderr).as("stderr of %s", method).isEmpty();
        return new Reply(process.exitValue(), SrMetadataStore.JSON.readTree(stdout), stdout);
    }

    private JsonNode ok(Path directory, String method, String argumentsJson) throws Exception {
        Reply reply = invoke(directory, method, argumentsJson);
        assertThat(reply.status()).as("%s: %s", method, reply.raw()).isZero();
        return reply.json();
    }

    @Test
    void xapiLifecycleThroughTheWrappers() throws Exception {
        JsonNode query = ok(volumeDir, "Plugin.Query", "{\"dbg\":\"t\"}");
        assertThat(query.path("plugin").asText()).isEqualTo("thinsr");
        assertThat(query.path("required_api_version").asText()).isEqualTo("5.0");
        assertThat(ok(datapathDir, "Plugin.Query", "{\"dbg\":\"t\"}")
                        .path("plugin")
                        .asText())
                .isEqualTo("thinsr");

        String srPath = workDir.resolve("sr").toString();
        String configuration = SrMetadataStore.JSON.writeValueAsString(Map.of("path", srPath));
        JsonNode created = ok(
                volumeDir,
                "SR.create",
                "{\"dbg\":\"t\",\"uuid\":\"5f0e6a4c-1111-2222-3333-444455556666\"," + "\"configuration\":"
                        + configuration + ",\"name\":\"local thin\",\"description\":\"d\"}");
        assertThat(created.path("path").asText()).isEqualTo(srPath);
        JsonNode sr = ok(
                volumeDir,
                "SR.attach",
                "{\"dbg\":\"t\",\"configuration\":" + SrMetadataStore.JSON.writeValueAsString(created) + "}");
        assertThat(sr.isTextual()).isTrue();
        String srJson = SrMetadataStore.JSON.writeValueAsString(sr.asText());

        JsonNode stat = ok(volumeDir, "SR.stat", "{\"dbg\":\"t\",\"sr\":" + srJson + "}");
        assertThat(stat.path("uuid").asText()).isEqualTo("5f0e6a4c-1111-2222-3333-444455556666");
        assertThat(stat.path("name").asText()).isEqualTo("local thin");
        assertThat(stat.path("total_space").asLong()).isPositive();
        assertThat(stat.path("health").get(0).asText()).isEqualTo("Healthy");

        JsonNode volume = ok(
                volumeDir,
                "Volume.create",
                "{\"dbg\":\"t\",\"sr\":" + srJson
                        + ",\"name\":\"vm disk\",\"description\":\"boot\",\"size\":4194304,\"sharable\":false}");
        String key = volume.path("key").asText();
        assertThat(volume.path("virtual_size").asLong()).isEqualTo(4194304);
        assertThat(volume.path("read_write").asBoolean()).isTrue();
        assertThat(volume.path("uri").get(0).asText()).startsWith("thinsr:///" + key + "?sr=");
        String keyJson = SrMetadataStore.JSON.writeValueAsString(key);

        assertThat(ok(
                                volumeDir,
                                "Volume.set",
                                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson
                                        + ",\"k\":\"vdi-type\",\"v\":\"user\"}")
                        .isNull())
                .isTrue();
        ok(
                volumeDir,
                "Volume.set_name",
                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson + ",\"new_name\":\"renamed\"}");
        ok(
                volumeDir,
                "Volume.resize",
                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson + ",\"new_size\":8388608}");
        JsonNode statVolume =
                ok(volumeDir, "Volume.stat", "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson + "}");
        assertThat(statVolume.path("name").asText()).isEqualTo("renamed");
        assertThat(statVolume.path("virtual_size").asLong()).isEqualTo(8388608);
        assertThat(statVolume.path("keys").path("vdi-type").asText()).isEqualTo("user");

        Reply shrink = invoke(
                volumeDir,
                "Volume.resize",
                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson + ",\"new_size\":4096}");
        assertThat(shrink.status()).isNotZero();
        assertThat(shrink.json().path("code").asText()).isEqualTo("VDI_SHRINK_REFUSED");
        assertThat(shrink.json().path("params").isArray()).isTrue();
        assertThat(shrink.json().has("backtrace")).isTrue();

        JsonNode snapshot =
                ok(volumeDir, "Volume.snapshot", "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson + "}");
        assertThat(snapshot.path("read_write").asBoolean()).isFalse();
        assertThat(snapshot.path("keys").path("snapshot_of").asText()).isEqualTo(key);
        JsonNode clone = ok(
                volumeDir,
                "Volume.clone",
                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":"
                        + SrMetadataStore.JSON.writeValueAsString(
                                snapshot.path("key").asText()) + "}");
        assertThat(clone.path("read_write").asBoolean()).isTrue();
        assertThat(ok(volumeDir, "SR.ls", "{\"dbg\":\"t\",\"sr\":" + srJson + "}"))
                .hasSize(3);

        String uri = SrMetadataStore.JSON.writeValueAsString(
                volume.path("uri").get(0).asText());
        ok(datapathDir, "Datapath.open", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"persistent\":true}");
        JsonNode backend = ok(datapathDir, "Datapath.attach", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"domain\":\"0\"}");
        JsonNode implementation = backend.path("implementations").get(0);
        assertThat(implementation.get(0).asText()).isEqualTo("Nbd");
        assertThat(implementation.get(1).path("uri").asText())
                .startsWith("nbd:unix:")
                .endsWith(":exportname=vm_disk");
        assertThat(ok(datapathDir, "Datapath.attach", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"domain\":\"0\"}"))
                .isEqualTo(backend);
        ok(datapathDir, "Datapath.activate", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"domain\":\"0\"}");
        ok(datapathDir, "Datapath.deactivate", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"domain\":\"0\"}");
        ok(datapathDir, "Datapath.detach", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"domain\":\"0\"}");
        ok(datapathDir, "Datapath.detach", "{\"dbg\":\"t\",\"uri\":" + uri + ",\"domain\":\"0\"}");
        ok(datapathDir, "Datapath.close", "{\"dbg\":\"t\",\"uri\":" + uri + "}");

        Reply notEmpty = invoke(volumeDir, "SR.destroy", "{\"dbg\":\"t\",\"sr\":" + srJson + "}");
        assertThat(notEmpty.json().path("code").asText()).isEqualTo("SR_NOT_EMPTY");
        for (JsonNode each : ok(volumeDir, "SR.ls", "{\"dbg\":\"t\",\"sr\":" + srJson + "}")) {
            ok(
                    volumeDir,
                    "Volume.destroy",
                    "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":"
                            + SrMetadataStore.JSON.writeValueAsString(
                                    each.path("key").asText()) + "}");
        }
        ok(volumeDir, "Volume.destroy", "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + keyJson + "}");
        ok(volumeDir, "SR.destroy", "{\"dbg\":\"t\",\"sr\":" + srJson + "}");
        assertThat(workDir.resolve("sr")).doesNotExist();
    }

    @Test
    void volumeStatOfAUriIntroducesTheTemplate() throws Exception {
        Path image = workDir.resolve("golden.raw");
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(2 << 20);
        }
        String srPath = workDir.resolve("sr").toString();
        ok(
                volumeDir,
                "SR.create",
                "{\"dbg\":\"t\",\"uuid\":\"5f0e6a4c-1111-2222-3333-444455556667\",\"configuration\":"
                        + SrMetadataStore.JSON.writeValueAsString(Map.of("path", srPath))
                        + ",\"name\":\"\",\"description\":\"\"}");
        String srJson = SrMetadataStore.JSON.writeValueAsString(srPath);
        String location = "file://" + image;
        JsonNode template = ok(
                volumeDir,
                "Volume.stat",
                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":" + SrMetadataStore.JSON.writeValueAsString(location)
                        + "}");
        assertThat(template.path("read_write").asBoolean()).isFalse();
        assertThat(template.path("uri").get(0).asText()).isEqualTo(location);
        Reply destroy = invoke(
                volumeDir,
                "Volume.destroy",
                "{\"dbg\":\"t\",\"sr\":" + srJson + ",\"key\":"
                        + SrMetadataStore.JSON.writeValueAsString(
                                template.path("key").asText()) + "}");
        assertThat(destroy.status()).isNotZero();
        assertThat(destroy.json().path("code").asText()).isEqualTo("VDI_IS_TEMPLATE");
    }

    @Test
    void badInputIsAnErrorObjectNotAStackTrace() throws Exception {
        Reply notJson = invoke(volumeDir, "SR.stat", "{not json");
        assertThat(notJson.status()).isNotZero();
        assertThat(notJson.json().path("code").asText()).isEqualTo("INVALID_ARGUMENT");
        Reply missing = invoke(volumeDir, "Volume.create", "{\"dbg\":\"t\"}");
        assertThat(missing.json().path("code").asText()).isEqualTo("INVALID_ARGUMENT");
        assertThat(missing.json().path("params").get(0).asText()).contains("'sr'");
    }
}
