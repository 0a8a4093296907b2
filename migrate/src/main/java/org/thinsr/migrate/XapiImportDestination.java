package org.thinsr.migrate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * An existing VDI behind xapi's {@code PUT /import_raw_vdi} (a XenServer / XCP-ng host, or {@code
 * thinsr serve}), fed with xapi's "chunked" framing ({@code Cookie: chunked=true}; see {@link
 * org.thinsr.vhdstream.ChunkedEncoder}). xapi creates VDIs through XenAPI, not here: the URL must
 * name one ({@code vdi=} ref or uuid), nothing is created, so nothing is removed on failure. The VDI
 * must be at least as large as the source and read as zeros where the source has no data (a fresh
 * VDI), since holes are not sent.
 *
 * <p>Each pass is one PUT whose body is the chunked framing of the pass's extents in ascending
 * order, with an exact {@code Content-Length} (xapi rejects any {@code Transfer-Encoding}): 12 +
 * length per chunk of at most {@value ChunkedPassBody#MAX_CHUNK_BYTES} bytes, plus the 12-byte
 * terminator. Zero extents of a delta pass travel as chunks of zero bytes; a full pass sends only
 * data. Delta passes are further PUTs into the same VDI. One stream per pass, so {@code
 * --connections} does not apply; a PUT cannot be resumed, and xapi has no checksum endpoint, so
 * {@code --keep-partial}/{@code --resume} and {@code --verify} are refused ({@link #checkOptions}).
 *
 * <p>The answer must be 2xx; xapi answers 200 before it reads the body and reports the outcome in
 * its task, so when the answer names a {@code task-id} the task is read back from {@code GET
 * tasks/{id}} next to the import path (what {@code thinsr serve} offers); a server without that
 * endpoint (xapi itself) is taken at its 2xx. Authentication: {@code session_id} stays in the
 * query, {@code user:password@} becomes basic auth, a token becomes a Bearer header.
 */
public final class XapiImportDestination implements Migration.Destination {
    static final String IMPORT_PATH = "/import_raw_vdi";
    static final Duration STALL_TIMEOUT = Duration.ofMinutes(5);
    static final Duration TASK_TIMEOUT = Duration.ofMinutes(5);
    static final int MAX_ERROR_BODY_BYTES = 64 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI target;
    private final String vdi;
    private final String described;
    private final Optional<String> authorization;
    private final HttpClient http;

    /** Whether {@code uri} is an http(s) URL of xapi's raw import, {@code …/import_raw_vdi}. */
    public static boolean accepts(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        return (scheme.equals("http") || scheme.equals("https"))
                && uri.getRawPath() != null
                && uri.getRawPath().endsWith(IMPORT_PATH);
    }

    /**
     * @param uri {@code http(s)://[user:password@]host[:port]/import_raw_vdi?vdi=…[&session_id=…]…}
     * @param token a Bearer token, exclusive with {@code user:password@}
     * @throws ThinsrException {@code USAGE} when the URL has no {@code vdi}, a format other than
     *     raw, no host, or both kinds of credentials
     */
    public XapiImportDestination(URI uri, Optional<String> token) {
        if (!accepts(uri)) {
            throw usage(redact(uri), "expected an http(s)://HOST[:PORT]/import_raw_vdi?vdi=… URL");
        }
        if (uri.getHost() == null) {
            throw usage(redact(uri), "no host");
        }
        List<String[]> query = parseQuery(uri.getRawQuery());
        String vdiParameter = parameter(query, "vdi");
        if (vdiParameter == null || vdiParameter.isBlank()) {
            throw usage(
                    redact(uri),
                    "missing vdi=<uuid or OpaqueRef> in the query: the destination VDI must already exist"
                            + " (xapi creates VDIs through XenAPI, e.g. xe vdi-create), sr_id/sr_uuid are not accepted");
        }
        String format = parameter(query, "format");
        if (format != null && !format.equalsIgnoreCase("raw")) {
            throw usage(redact(uri), "format=" + format + ": the chunked framing carries raw data only (format=raw)");
        }
        String rawUserInfo = uri.getRawUserInfo();
        if (rawUserInfo != null && token.isPresent()) {
            throw usage(redact(uri), "both user:password@ in the URL and --token: give one");
        }
        this.vdi = vdiParameter;
        this.target =
                URI.create(origin(uri) + uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()));
        this.described = redact(target);
        this.authorization = rawUserInfo != null
                ? Optional.of("Basic "
                        + Base64.getEncoder()
                                .encodeToString(
                                        URLDecoder.decode(rawUserInfo.replace("+", "%2B"), StandardCharsets.UTF_8)
                                                .getBytes(StandardCharsets.UTF_8)))
                : token.map(value -> "Bearer " + value);
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(30))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** The VDI named by the URL's {@code vdi} parameter. */
    public String vdi() {
        return vdi;
    }

    /** The URL the PUTs go to: no user info; {@code session_id} kept. */
    URI target() {
        return target;
    }

    @Override
    public String describe() {
        return described;
    }

    @Override
    public String key() {
        return "xapi:" + described;
    }

    @Override
    public void checkOptions(Migration.Options options) {
        if (options.verify()) {
            throw new ThinsrException(
                    ErrorCode.USAGE,
                    "--verify: xapi /import_raw_vdi has no checksum endpoint (" + described
                            + "); migrate without --verify, or to a thinsr server (http://HOST:PORT/)");
        }
        if (options.keepPartial()) {
            throw new ThinsrException(
                    ErrorCode.USAGE,
                    "--keep-partial/--resume: a chunked PUT to xapi /import_raw_vdi cannot be resumed (" + described
                            + "); run the migration again: it re-sends every pass whole");
        }
    }

    /** Nothing is created: returns the VDI of the URL. Its existence is checked by the first PUT. */
    @Override
    public String prepare(String nameLabel, long virtualSize) {
        return vdi;
    }

    @Override
    public void reopen(String vdiId, long virtualSize) {
        throw new ThinsrException(
                ErrorCode.USAGE,
                "--resume: a chunked PUT to xapi /import_raw_vdi cannot be resumed (" + described + ")");
    }

    /** Not used: {@link #copy} sends one ordered stream per pass. */
    @Override
    public BlockSink openSink() {
        throw new ThinsrException(
                ErrorCode.UNSUPPORTED, "xapi /import_raw_vdi takes one chunked stream per pass, not positional writes");
    }

    @Override
    public List<String> checksums(int blockSize) {
        throw new ThinsrException(
                ErrorCode.USAGE, "--verify: xapi /import_raw_vdi has no checksum endpoint (" + described + ")");
    }

    @Override
    public void setContentId(String contentId) {
        // content ids are XenAPI state (VDI.other_config), out of reach of the HTTP handler
    }

    @Override
    public void discard() {
        // the VDI was not made here; it stays
    }

    /**
     * One PUT of the pass. {@code options.connections()} and the journal do not apply (one ordered
     * stream; it cannot be resumed). Fails on a source read error, a connection error, a non-2xx
     * answer or a failed task; success only once the server took the whole body.
     */
    @Override
    public SparseCopier.Result copy(
            CopyPlan plan,
            SparseCopier.Opener<BlockSource> sources,
            SparseCopier.Options options,
            Optional<CopyJournal> journal,
            SparseCopier.Listener listener,
            BooleanSupplier cancelled)
            throws IOException {
        long started = System.nanoTime();
        long totalData = plan.data().totalLength();
        long totalZeros = plan.zeros().totalLength();
        ChunkedPassBody body;
        try (BlockSource source = sources.open()) {
            body = new ChunkedPassBody(
                    plan,
                    source,
                    ChunkedPassBody.MAX_CHUNK_BYTES,
                    ChunkedPassBody.WINDOW_BYTES,
                    options.bandwidth(),
                    listener,
                    cancelled);
            ChunkedPassBody once = body;
            HttpRequest request = request(target)
                    .header("Cookie", "chunked=true")
                    .header("Content-Type", "application/octet-stream")
                    .PUT(HttpRequest.BodyPublishers.fromPublisher(
                            HttpRequest.BodyPublishers.ofInputStream(() -> once), body.length()))
                    .build();
            HttpResponse<InputStream> response = send(request, body, cancelled);
            checkAnswer(response);
        }
        if (body.position() != body.length()) {
            throw new ThinsrException(
                    ErrorCode.PEER_ERROR,
                    "PUT " + described + " answered after " + body.position() + " of " + body.length()
                            + " body bytes: the VDI is incomplete");
        }
        listener.progress(body.sentBytes(), body.zeroedBytes(), totalData, totalZeros);
        return new SparseCopier.Result(body.sentBytes(), body.zeroedBytes(), 0, (System.nanoTime() - started) / 1e9);
    }

    private HttpResponse<InputStream> send(HttpRequest request, ChunkedPassBody body, BooleanSupplier cancelled)
            throws IOException {
        CompletableFuture<HttpResponse<InputStream>> future =
                http.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream());
        long lastPosition = -1;
        long lastChangeNanos = System.nanoTime();
        while (true) {
            try {
                return future.get(200, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (cancelled.getAsBoolean()) {
                    future.cancel(true);
                    throw new ThinsrException(ErrorCode.CANCELLED, "copy cancelled");
                }
                long position = body.position();
                if (position != lastPosition) {
                    lastPosition = position;
                    lastChangeNanos = System.nanoTime();
                } else if (System.nanoTime() - lastChangeNanos > STALL_TIMEOUT.toNanos()) {
                    future.cancel(true);
                    throw new ThinsrException(
                            ErrorCode.TIMED_OUT,
                            "PUT " + described + ": no progress for " + STALL_TIMEOUT.toMinutes()
                                    + " minutes at body byte " + position + " of " + body.length());
                }
            } catch (InterruptedException e) {
                future.cancel(true);
                Thread.currentThread().interrupt();
                throw new ThinsrException(ErrorCode.CANCELLED, "interrupted: PUT " + described);
            } catch (ExecutionException e) {
                Exception failure = body.failure();
                switch (failure) {
                    case IOException io -> throw io;
                    case RuntimeException runtime -> throw runtime;
                    case null -> {}
                    default -> throw new IOException(failure);
                }
                Throwable cause = e.getCause() == null ? e : e.getCause();
                throw new ThinsrException(
                        ErrorCode.PEER_ERROR,
                        "PUT " + described + " failed after " + body.position() + " of " + body.length()
                                + " body bytes: " + cause,
                        cause);
            }
        }
    }

    /** Requires a 2xx answer and, where the server keeps tasks, a successful task. */
    private void checkAnswer(HttpResponse<InputStream> response) throws IOException {
        int status = response.statusCode();
        if (status < 200 || status >= 300) {
            throw answerFailure(response);
        }
        try (InputStream in = response.body()) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        // xapi answers before it reads the body: the task knows why a body was cut short
        Optional<String> taskId = response.headers().firstValue("task-id");
        if (taskId.isPresent()) {
            awaitTask(taskId.get());
        }
    }

    private ThinsrException answerFailure(HttpResponse<InputStream> response) throws IOException {
        int status = response.statusCode();
        byte[] bytes;
        try (InputStream in = response.body()) {
            bytes = in.readNBytes(MAX_ERROR_BODY_BYTES);
        }
        String text = new String(bytes, StandardCharsets.UTF_8).strip();
        ErrorCode code =
                switch (status) {
                    case 401 -> ErrorCode.UNAUTHORIZED;
                    case 403 -> ErrorCode.FORBIDDEN;
                    case 404 -> ErrorCode.NOT_FOUND;
                    case 503, 504 -> ErrorCode.TIMED_OUT;
                    default -> ErrorCode.PEER_ERROR;
                };
        String detail =
                text.isEmpty() ? "(empty body)" : text.lines().findFirst().orElse("");
        try {
            JsonNode error = JSON.readTree(bytes);
            if (error != null && error.path("code").isTextual()) {
                code = errorCode(error.path("code").asText(), code);
                detail = error.path("code").asText() + ": "
                        + error.path("message").asText("");
            }
        } catch (IOException notJson) {
            // xapi answers plain text or HTML: its first line is the detail
        }
        Optional<String> location = response.headers().firstValue("Location");
        if (status >= 300 && status < 400 && location.isPresent()) {
            detail = "redirected to " + redact(URI.create(location.get()))
                    + ": the VDI's SR is seen by that host; give it in --to";
        }
        return new ThinsrException(code, "PUT " + described + " answered " + status + ": " + detail, vdi);
    }

    /**
     * Reads the import's task from {@code GET …/tasks/{id}} until it ends; a server without that
     * endpoint (a 404 or an answer that is not a task) is taken at its 2xx.
     */
    private void awaitTask(String taskId) throws IOException {
        String path = target.getRawPath();
        URI uri = URI.create(origin(target) + path.substring(0, path.length() - IMPORT_PATH.length()) + "/tasks/"
                + URLEncoder.encode(taskId, StandardCharsets.UTF_8).replace("+", "%20"));
        long deadline = System.nanoTime() + TASK_TIMEOUT.toNanos();
        long pauseMillis = 10;
        while (true) {
            HttpResponse<byte[]> response;
            try {
                response = http.send(
                        request(uri).timeout(Duration.ofSeconds(30)).GET().build(),
                        HttpResponse.BodyHandlers.ofByteArray());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ThinsrException(ErrorCode.CANCELLED, "interrupted: GET " + uri);
            }
            if (response.statusCode() != 200) {
                return;
            }
            JsonNode task;
            try {
                task = JSON.readTree(response.body());
            } catch (IOException notJson) {
                return;
            }
            String state = task == null ? "" : task.path("status").asText("");
            switch (state) {
                case "success" -> {
                    return;
                }
                case "failure" ->
                    throw new ThinsrException(
                            errorCode(task.path("error_code").asText(""), ErrorCode.PEER_ERROR),
                            "PUT " + described + ": import task " + taskId + " failed: "
                                    + task.path("error_code").asText("") + ": "
                                    + task.path("error").asText(""),
                            vdi);
                case "pending", "running" -> {
                    if (System.nanoTime() > deadline) {
                        throw new ThinsrException(
                                ErrorCode.TIMED_OUT,
                                "PUT " + described + ": import task " + taskId + " still " + state + " after "
                                        + TASK_TIMEOUT.toMinutes() + " minutes");
                    }
                    try {
                        Thread.sleep(pauseMillis);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new ThinsrException(ErrorCode.CANCELLED, "interrupted: GET " + uri);
                    }
                    pauseMillis = Math.min(1000, pauseMillis * 2);
                }
                default -> {
                    return; // not a thinsr task
                }
            }
        }
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri);
        authorization.ifPresent(value -> builder.header("Authorization", value));
        return builder;
    }

    @Override
    public void close() {
        http.close();
    }

    private static ErrorCode errorCode(String name, ErrorCode otherwise) {
        for (ErrorCode candidate : ErrorCode.values()) {
            if (candidate.name().equals(name)) {
                return candidate;
            }
        }
        return otherwise;
    }

    private static String origin(URI uri) {
        return uri.getScheme().toLowerCase(Locale.ROOT) + "://" + uri.getHost()
                + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
    }

    /** The URL without user info and with the session id's value hidden, for messages and state. */
    static String redact(URI uri) {
        if (uri.getScheme() == null || uri.getHost() == null) {
            return uri.toString().replaceAll("//[^/@]*@", "//");
        }
        StringBuilder text = new StringBuilder(origin(uri)).append(uri.getRawPath() == null ? "" : uri.getRawPath());
        if (uri.getRawQuery() != null) {
            List<String> parts = new ArrayList<>();
            for (String part : uri.getRawQuery().split("&", -1)) {
                parts.add(part.regionMatches(true, 0, "session_id=", 0, 11) ? "session_id=…" : part);
            }
            text.append('?').append(String.join("&", parts));
        }
        return text.toString();
    }

    /** The decoded {@code name=value} pairs of a raw query; a name without {@code =} has value "". */
    private static List<String[]> parseQuery(String rawQuery) {
        List<String[]> pairs = new ArrayList<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return pairs;
        }
        for (String part : rawQuery.split("&", -1)) {
            int equals = part.indexOf('=');
            String name = equals < 0 ? part : part.substring(0, equals);
            String value = equals < 0 ? "" : part.substring(equals + 1);
            pairs.add(new String[] {
                URLDecoder.decode(name, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8)
            });
        }
        return pairs;
    }

    private static String parameter(List<String[]> query, String name) {
        for (String[] pair : query) {
            if (pair[0].equals(name)) {
                return pair[1];
            }
        }
        return null;
    }

    private static ThinsrException usage(String url, String problem) {
        return new ThinsrException(ErrorCode.USAGE, "--to: actual '" + url + "': " + problem);
    }
}
