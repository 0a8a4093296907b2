package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.thinsr.qmpclient.ScriptedChannel.Script;

class QmpClientTest {
    static final QmpClient.Options OPTIONS = new QmpClient.Options(Duration.ofSeconds(10), 4096);
    static final String GREETING =
            "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian\"},"
                    + " \"capabilities\": [\"oob\"]}}\r\n";

    static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    static String command(String name, String arguments, int id) {
        return "{\"execute\":\"" + name + "\"" + (arguments == null ? "" : ",\"arguments\":" + arguments)
                + ",\"id\":\"thinsr-" + id + "\"}\n";
    }

    static Script greeted() {
        Script script = new Script();
        script.server(bytes(GREETING))
                .client(bytes(command("qmp_capabilities", null, 1)))
                .server(bytes("{\"return\": {}, \"id\": \"thinsr-1\"}\r\n"));
        return script;
    }

    static Script versionScript() {
        Script script = greeted();
        script.client(bytes(command("query-version", null, 2)))
                .server(bytes("{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\":"
                        + " \"JOB_STATUS_CHANGE\", \"data\": {\"status\": \"running\", \"id\": \"job0\"}}\r\n"
                        + "{\"return\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian\"},"
                        + " \"id\": \"thinsr-2\"}\r\n"));
        return script;
    }

    void runVersion(ScriptedChannel channel, Script script) throws IOException {
        List<QmpEvent> events = new CopyOnWriteArrayList<>();
        try (QmpClient client = QmpClient.open(channel, OPTIONS)) {
            CompletableFuture<QmpEvent> event = client.eventFuture(e -> e.name().equals(QmpEvent.JOB_STATUS_CHANGE));
            client.addEventListener(events::add);
            assertThat(client.greeting()
                            .path("version")
                            .path("qemu")
                            .path("major")
                            .asInt())
                    .isEqualTo(7);
            QmpTypes.QemuVersion version = new QmpCommands(client).queryVersion();
            assertThat(version.toString()).isEqualTo("7.2.22");
            assertThat(version.packageName()).isEqualTo("Debian");
            QmpEvent received = client.awaitEvent(event, Duration.ofSeconds(10));
            assertThat(received.subject()).isEqualTo("job0");
            assertThat(received.data().path("status").asText()).isEqualTo("running");
            assertThat(received.timestampMicros()).isEqualTo(1_700_000_000_000_005L);
        }
        assertThat(new String(channel.written(), StandardCharsets.UTF_8))
                .isEqualTo(new String(script.expectedClient(), StandardCharsets.UTF_8));
    }

    @Test
    void greetingCapabilitiesCommandAndEventSurviveEverySplitOfTheStream() throws IOException {
        Script script = versionScript();
        for (int cut = 0; cut <= script.serverLength(); cut++) {
            runVersion(new ScriptedChannel(script.steps(), Integer.MAX_VALUE, cut, true), script);
        }
        runVersion(new ScriptedChannel(script.steps(), 1, -1, true), script);
    }

    @Test
    void errorReplyBecomesQmpExceptionWithItsClassAndTheConnectionStaysUsable() throws IOException {
        Script script = greeted();
        script.client(bytes(command("block-dirty-bitmap-remove", "{\"node\":\"fmt0\",\"name\":\"cp9\"}", 2)))
                .server(bytes("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Dirty bitmap 'cp9' not found\"},"
                        + " \"id\": \"thinsr-2\"}\r\n"))
                .client(bytes(command("query-jobs", null, 3)))
                .server(bytes(
                        "{\"return\": [{\"current-progress\": 5, \"status\": \"concluded\", \"total-progress\": 9,"
                                + " \"type\": \"backup\", \"id\": \"fleece\", \"error\": \"Operation canceled\"}],"
                                + " \"id\": \"thinsr-3\"}\r\n"));
        try (QmpClient client = QmpClient.open(new ScriptedChannel(script.steps(), 7, -1, true), OPTIONS)) {
            QmpCommands commands = new QmpCommands(client);
            assertThatThrownBy(() -> commands.blockDirtyBitmapRemove("fmt0", "cp9"))
                    .isInstanceOfSatisfying(QmpException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("GenericError");
                        assertThat(e.description()).isEqualTo("Dirty bitmap 'cp9' not found");
                        assertThat(e.command()).isEqualTo("block-dirty-bitmap-remove");
                    });
            assertThat(commands.queryJobs())
                    .containsExactly(new QmpTypes.JobInfo("fleece", "backup", "concluded", 5, 9, "Operation canceled"));
        }
    }

    @Test
    void repliesAreMatchedByIdWhenSeveralCommandsAreInFlight() throws Exception {
        Script script = greeted();
        script.client(bytes(command("query-block-exports", null, 2)))
                .client(bytes(command("query-jobs", null, 3)))
                .server(bytes("{\"return\": [], \"id\": \"thinsr-3\"}\r\n"
                        + "{\"return\": [{\"id\": \"exp0\", \"type\": \"nbd\", \"node-name\": \"fmt0\","
                        + " \"shutting-down\": false}], \"id\": \"thinsr-2\"}\r\n"));
        try (QmpClient client = QmpClient.open(new ScriptedChannel(script.steps(), 64, -1, true), OPTIONS)) {
            CompletableFuture<JsonNode> exports = client.executeAsync("query-block-exports", null);
            CompletableFuture<JsonNode> jobs = client.executeAsync("query-jobs", null);
            assertThat(jobs.get().size()).isZero();
            assertThat(exports.get().get(0).path("node-name").asText()).isEqualTo("fmt0");
        }
    }

    @Test
    void commandWithoutReplyTimesOutAndALateReplyIsDropped() throws IOException {
        Script script = greeted();
        script.client(bytes(command("query-jobs", null, 2)))
                .client(bytes(command("query-jobs", null, 3)))
                .server(bytes("{\"return\": [1], \"id\": \"thinsr-2\"}\r\n{\"return\": [], \"id\": \"thinsr-3\"}\r\n"));
        try (QmpClient client = QmpClient.open(new ScriptedChannel(script.steps(), 64, -1, true), OPTIONS)) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.execute("query-jobs", null, Duration.ofMillis(200)))
                    .isInstanceOf(QmpTimeoutException.class)
                    .hasMessageContaining("query-jobs: no reply within PT0.2S");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(client.execute("query-jobs", null).size()).isZero();
            assertThat(client.isAlive()).isTrue();
        }
    }

    @Test
    void peerClosingFailsTheCommandInFlightAndEveryLaterOneWithoutHanging() throws IOException {
        Script script = greeted();
        script.client(bytes(command("query-jobs", null, 2))).server(bytes("{\"return\""));
        try (QmpClient client = QmpClient.open(new ScriptedChannel(script.steps(), 64, -1, false), OPTIONS)) {
            assertThatThrownBy(() -> client.execute("query-jobs", null))
                    .isInstanceOf(IOException.class)
                    .isNotInstanceOf(QmpTimeoutException.class)
                    .hasMessageContaining("QMP peer closed the connection");
            assertThatThrownBy(() -> client.execute("query-jobs", null)).hasMessageContaining("QMP connection is dead");
            assertThatThrownBy(() -> client.awaitEvent(e -> true, Duration.ofSeconds(10)))
                    .hasMessageContaining("QMP connection is dead");
            assertThat(client.isAlive()).isFalse();
        }
    }

    @Test
    void messageLongerThanTheBoundClosesTheConnection() throws IOException {
        Script script = greeted();
        script.client(bytes(command("query-jobs", null, 2)))
                .server(bytes("{\"return\": \"" + "x".repeat(5000) + "\", \"id\": \"thinsr-2\"}\r\n"));
        try (QmpClient client = QmpClient.open(new ScriptedChannel(script.steps(), 1000, -1, true), OPTIONS)) {
            assertThatThrownBy(() -> client.execute("query-jobs", null))
                    .hasMessageContaining("QMP message: length: actual more than 4096 bytes, expected at most 4096");
            assertThat(client.isAlive()).isFalse();
        }
    }

    @Test
    void messageThatIsNotAJsonObjectClosesTheConnection() throws IOException {
        Script script = greeted();
        script.client(bytes(command("query-jobs", null, 2))).server(bytes("[1, 2]\r\n"));
        try (QmpClient client = QmpClient.open(new ScriptedChannel(script.steps(), 1000, -1, true), OPTIONS)) {
            assertThatThrownBy(() -> client.execute("query-jobs", null)).hasMessageContaining("expected an object");
        }
    }

    @Test
    void garbageGreetingFailsOpenWithAPreciseMessage() {
        Script script = new Script();
        script.server(bytes("{\"QMP\": {\"version\": \r\n"));
        assertThatThrownBy(() -> QmpClient.open(new ScriptedChannel(script.steps(), 64, -1, true), OPTIONS))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not valid JSON")
                .hasRootCauseInstanceOf(com.fasterxml.jackson.core.JsonProcessingException.class);
    }
}
