package org.thinsr.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.qmpclient.QmpClient;
import org.thinsr.qmpclient.QmpException;
import org.thinsr.qmpclient.QmpTimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code thinsr qmp SOCKET COMMAND [JSON-ARGS]}: one QMP command, its reply printed as JSON. */
@Command(
        name = "qmp",
        mixinStandardHelpOptions = true,
        description = "Run one QMP command on a qemu or qemu-storage-daemon monitor socket and print its"
                + " return value as JSON.")
final class QmpCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SOCKET", description = "The QMP unix socket.")
    Path socket;

    @Parameters(index = "1", paramLabel = "COMMAND", description = "The QMP command, e.g. query-block-exports.")
    String command;

    @Parameters(
            index = "2",
            arity = "0..1",
            paramLabel = "JSON-ARGS",
            description = "The command's arguments as one JSON object, e.g. '{\"flat\":true}'.")
    String arguments;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Wait this long for the reply (default 60).")
    long timeoutSeconds = 60;

    @Option(names = "--pretty", description = "Indent the JSON output.")
    boolean pretty;

    @Override
    public Integer call() throws IOException {
        JsonNode parsed = null;
        if (arguments != null) {
            try {
                parsed = JSON.readTree(arguments);
            } catch (JsonProcessingException e) {
                throw new ThinsrException(ErrorCode.USAGE, "JSON-ARGS is not valid JSON: " + e.getOriginalMessage(), e);
            }
            if (parsed == null || !parsed.isObject()) {
                throw new ThinsrException(ErrorCode.USAGE, "JSON-ARGS must be a JSON object, got: " + arguments);
            }
        }
        if (timeoutSeconds < 1) {
            throw new ThinsrException(ErrorCode.USAGE, "--timeout must be at least 1 second: " + timeoutSeconds);
        }
        Duration timeout = Duration.ofSeconds(timeoutSeconds);
        try (QmpClient client = QmpClient.connect(socket, new QmpClient.Options(timeout, 64 * 1024 * 1024))) {
            JsonNode reply = client.execute(command, parsed, timeout);
            String text = pretty
                    ? JSON.writerWithDefaultPrettyPrinter().writeValueAsString(reply)
                    : JSON.writeValueAsString(reply);
            spec.commandLine().getOut().println(text);
            spec.commandLine().getOut().flush();
        } catch (QmpException e) {
            throw new ThinsrException(ErrorCode.PEER_ERROR, e.getMessage(), e, e.errorClass());
        } catch (QmpTimeoutException e) {
            throw new ThinsrException(ErrorCode.TIMED_OUT, e.getMessage(), e);
        }
        return 0;
    }
}
