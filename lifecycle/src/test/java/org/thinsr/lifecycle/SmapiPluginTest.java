package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmapiPluginTest {
    @TempDir
    Path workDir;

    private SmapiPlugin plugin() {
        return new SmapiPlugin(TestLifecycles.create(workDir, Duration.ofSeconds(1)), "1.2.3");
    }

    private static JsonNode json(String text) throws Exception {
        return SrMetadataStore.JSON.readTree(text);
    }

    @Test
    void queryNamesThePluginAndApiVersion() throws Exception {
        SmapiPlugin.Outcome outcome = plugin().call("plugin.query", "{\"dbg\":\"x\"}".getBytes(StandardCharsets.UTF_8));
        assertThat(outcome.exitStatus()).isZero();
        JsonNode result = json(outcome.stdout());
        assertThat(result.path("plugin").asText()).isEqualTo("thinsr");
        assertThat(result.path("version").asText()).isEqualTo("1.2.3");
        assertThat(result.path("required_api_version").asText()).isEqualTo("5.0");
        assertThat(result.path("features").toString()).contains("VDI_SNAPSHOT", "SR_PROBE");
    }

    @Test
    void unknownMethodIsAnErrorObject() throws Exception {
        SmapiPlugin.Outcome outcome = plugin().call("Volume.compose", new byte[0]);
        assertThat(outcome.exitStatus()).isNotZero();
        JsonNode error = json(outcome.stdout());
        assertThat(error.path("code").asText()).isEqualTo("UNSUPPORTED");
        assertThat(error.path("params").get(0).asText()).contains("Unimplemented: Volume.compose");
        assertThat(error.path("backtrace").isObject()).isTrue();
    }

    @Test
    void inputThatIsNotAnObjectOrTooLargeIsRefused() throws Exception {
        assertThat(json(plugin().call("SR.stat", "[1,2]".getBytes(StandardCharsets.UTF_8))
                                .stdout())
                        .path("code")
                        .asText())
                .isEqualTo("INVALID_ARGUMENT");
        assertThat(json(plugin().call("SR.stat", new byte[(1 << 20) + 1]).stdout())
                        .path("code")
                        .asText())
                .isEqualTo("INVALID_ARGUMENT");
        assertThat(json(plugin().call("SR.stat", "{\"sr\":".getBytes(StandardCharsets.UTF_8))
                                .stdout())
                        .path("code")
                        .asText())
                .isEqualTo("INVALID_ARGUMENT");
    }

    @Test
    void datapathUriRoundTripsSrReferencesWithAnyCharacters() {
        SmapiPlugin.DatapathUri uri =
                new SmapiPlugin.DatapathUri("/srv/my sr&x=y", "5f0e6a4c-1111-2222-3333-444455556666");
        assertThat(SmapiPlugin.DatapathUri.parse(uri.text())).isEqualTo(uri);
        assertThat(uri.text()).startsWith("thinsr:///5f0e6a4c-1111-2222-3333-444455556666?sr=");
    }

    @Test
    void nbdAttachmentBecomesXapisNbdUri() {
        assertThat(SmapiPlugin.xapiNbdUri("nbd+unix:///disk_1?socket=/run/thinsr/f00.sock"))
                .isEqualTo("nbd:unix:/run/thinsr/f00.sock:exportname=disk_1");
    }

    @Test
    void installerQuotesEveryWord() {
        assertThat(PluginInstaller.quote("a'b c$(x)")).isEqualTo("'a'\\''b c$(x)'");
    }
}
