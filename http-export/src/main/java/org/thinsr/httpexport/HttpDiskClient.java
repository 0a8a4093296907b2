package org.thinsr.httpexport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.qmpclient.NbdBlockSink;
import org.thinsr.qmpclient.NbdConnection;

/**
 * The client side of {@code thinsr serve}: a remote VDI as a {@link BlockSource} (GET with Range)
 * and a {@link BlockSink} (PUT with Content-Range, PATCH zero and flush), its allocation map (the
 * extents API), per-block checksums, and whole-disk upload and download. Thread-safe; every call is
 * bounded by a timeout. Server failures become {@link ThinsrException}s carrying the server's own
 * error code. {@link #close} stops the HTTP client's selector thread (a thread waiting in {@code
 * epoll} holds a JVM's exit up for 300 ms).
 */
public final class HttpDiskClient implements AutoCloseable {
    static final Duration TIMEOUT = Duration.ofMinutes(5);
    static final int MAX_JSON_BYTES = 256 << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final Optional<String> token;
    private final HttpClient http;

    /** {@code base} is the server's root, e.g. {@code http://host:8080/}. */
    public HttpDiskClient(URI base, Optional<String> token) {
        this.base = base.getPath().endsWith("/") ? base : URI.create(base + "/");
        this.token = token;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(30))
                .build();
    }

    public URI base() {
        return base;
    }

    /** Ends the client's connections and threads; requests in flight fail. */
    @Override
    public void close() {
        http.shutdownNow();
    }

    URI uri(String vdi, String suffix, String query) {
        String path = "vdis/" + URLEncoder.encode(vdi, StandardCharsets.UTF_8).replace("+", "%20") + suffix;
        return base.resolve(path + (query.isEmpty() ? "" : "?" + query));
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(TIMEOUT);
        token.ifPresent(value -> builder.header("Authorization", "Bearer " + value));
        return builder;
    }

    /** The VDI as the server lists it. */
    public DiskStore.DiskInfo find(String vdi) throws IOException {
        JsonNode list = json(request(base.resolve("vdis")).GET());
        for (JsonNode node : list) {
            if (node.path("id").asText().equals(vdi)
                    || node.path("name_label").asText().equals(vdi)) {
                return new DiskStore.DiskInfo(
                        node.path("id").asText(),
                        node.path("name_label").asText(),
                        node.path("virtual_size").asLong(),
                        node.path("read_only").asBoolean());
            }
        }
        throw new ThinsrException(ErrorCode.VDI_NOT_FOUND, "no VDI " + vdi + " on " + base, vdi);
    }

    /** Creates a VDI on the server. */
    public DiskStore.DiskInfo create(String nameLabel, long virtualSize) throws IOException {
        String body = JSON.createObjectNode()
                .put("name_label", nameLabel)
                .put("virtual_size", virtualSize)
                .toString();
        JsonNode node = json(request(base.resolve("vdis"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
        return new DiskStore.DiskInfo(
                node.path("id").asText(),
                node.path("name_label").asText(),
                node.path("virtual_size").asLong(),
                node.path("read_only").asBoolean());
    }

    /** Destroys a VDI on the server; false when it was not there. */
    public boolean delete(String vdi) throws IOException {
        try {
            discard(send(request(uri(vdi, "", "")).DELETE()));
            return true;
        } catch (ThinsrException e) {
            if (e.code() == ErrorCode.VDI_NOT_FOUND) {
                return false;
            }
            throw e;
        }
    }

    /** The allocation map, from the paged {@code extents?context=zero} API. */
    public AllocationMap allocationMap(String vdi, long virtualSize) throws IOException {
        AllocationMap.Builder builder = AllocationMap.builder(virtualSize);
        long start = 0;
        while (start < virtualSize) {
            HttpResponse<InputStream> response = send(
                    request(uri(vdi, "/extents", "context=zero&start=" + start)).GET());
            JsonNode extents = readJson(response);
            for (JsonNode extent : extents) {
                long from = extent.path("start").asLong(-1);
                long length = extent.path("length").asLong(-1);
                if (from != builder.position() || length <= 0 || from + length > virtualSize) {
                    throw new CorruptInputException(base + " extents: extent [" + from + ", +" + length
                            + "): expected one starting at " + builder.position() + " inside " + virtualSize);
                }
                State state = !extent.path("zero").asBoolean()
                        ? State.DATA
                        : extent.path("hole").asBoolean() ? State.HOLE : State.ZERO;
                builder.add(from, from + length, state, Provenance.LOCAL);
            }
            Optional<String> next = response.headers().firstValue("X-Next-Start");
            if (next.isEmpty()) {
                break;
            }
            start = Long.parseLong(next.get());
            if (start != builder.position()) {
                throw new CorruptInputException(
                        base + " extents: next page at " + start + ", expected " + builder.position());
            }
        }
        if (builder.position() != virtualSize) {
            throw new CorruptInputException(
                    base + " extents: cover [0, " + builder.position() + "), expected [0, " + virtualSize + ")");
        }
        return builder.build();
    }

    /** SHA-256 per block of the whole VDI (see {@link org.thinsr.allocmap.BlockChecksums}). */
    public List<String> checksums(String vdi, int blockSize, long virtualSize) throws IOException {
        List<String> sums = new ArrayList<>();
        long start = 0;
        while (start < virtualSize) {
            JsonNode page = json(request(uri(vdi, "/checksum", "block_size=" + blockSize + "&start=" + start))
                    .GET());
            long end = page.path("end").asLong(-1);
            if (end <= start || end > virtualSize) {
                throw new CorruptInputException(
                        base + " checksum: page end " + end + ", expected in (" + start + ", " + virtualSize + "]");
            }
            for (JsonNode sum : page.path("checksums")) {
                sums.add(sum.asText());
            }
            start = end;
        }
        return sums;
    }

    /** The remote VDI read by position (GET with Range). */
    public BlockSource source(String vdi, long virtualSize) {
        return new BlockSource() {
            @Override
            public long size() {
                return virtualSize;
            }

            @Override
            public void readFully(long offset, ByteBuffer buffer) throws IOException {
                int length = buffer.remaining();
                if (offset < 0 || offset + length > virtualSize) {
                    throw new EOFException("read [" + offset + ", +" + length + ") past the end " + virtualSize);
                }
                if (length == 0) {
                    return;
                }
                HttpResponse<InputStream> response = send(request(uri(vdi, "", "format=raw"))
                        .header("Range", "bytes=" + offset + "-" + (offset + length - 1))
                        .GET());
                if (response.statusCode() != 206) {
                    response.body().close();
                    throw new IOException(
                            base + ": range request answered " + response.statusCode() + ", expected 206");
                }
                try (InputStream in = response.body()) {
                    byte[] bytes = in.readNBytes(length);
                    if (bytes.length != length) {
                        throw new EOFException("server sent " + bytes.length + " of " + length + " bytes at " + offset);
                    }
                    buffer.put(bytes);
                }
            }

            @Override
            public void close() {}
        };
    }

    /**
     * The remote VDI written by position (PUT with Content-Range; PATCH zero and flush). To an
     * {@code http://} server the PUTs go over a kept-alive connection of the sink's own ({@link
     * PlainPutConnection}): one sink per thread.
     */
    public BlockSink sink(String vdi, long virtualSize) {
        PlainPutConnection plain =
                "http".equalsIgnoreCase(base.getScheme()) ? new PlainPutConnection(base, token, TIMEOUT) : null;
        return new BlockSink() {
            @Override
            public long size() {
                return virtualSize;
            }

            @Override
            public void write(long offset, ByteBuffer buffer) throws IOException {
                int length = buffer.remaining();
                if (length == 0) {
                    return;
                }
                String range = "bytes " + offset + "-" + (offset + length - 1) + "/*";
                URI target = uri(vdi, "", "");
                if (plain != null) {
                    putPlain(plain, target, range, buffer);
                    return;
                }
                byte[] bytes = new byte[length];
                buffer.get(bytes);
                discard(send(request(target)
                        .header("Content-Range", range)
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes))));
            }

            @Override
            public void writeZeroes(long offset, long length) throws IOException {
                patch(JSON.createObjectNode()
                        .put("op", "zero")
                        .put("offset", offset)
                        .put("size", length)
                        .toString());
            }

            @Override
            public void flush() throws IOException {
                patch("{\"op\":\"flush\"}");
            }

            private void patch(String body) throws IOException {
                discard(send(request(uri(vdi, "", ""))
                        .header("Content-Type", "application/json")
                        .method("PATCH", HttpRequest.BodyPublishers.ofString(body))));
            }

            @Override
            public void close() {
                if (plain != null) {
                    plain.close();
                }
            }
        };
    }

    /**
     * The remote VDI written over NBD through an HTTP upgrade of a plain {@code http://} connection
     * ({@code POST /vdis/{vdi}/nbd}, {@code Upgrade: nbd}): the server relays the connection to the
     * daemon that serves the VDI, so the data goes as NBD requests, not as an HTTP request per range.
     * One connection, thread-safe, requests pipelined; closing it ends the tunnel. Empty for {@code
     * https://}, and when the server offers no tunnel for the VDI ({@code 501 UNSUPPORTED}: an LVM
     * SR; {@code 404 NOT_FOUND}: a server without the resource): then write with {@link #sink}.
     */
    public Optional<NbdBlockSink> nbdSink(String vdi) throws IOException {
        if (!"http".equalsIgnoreCase(base.getScheme())) {
            return Optional.empty();
        }
        URI target = uri(vdi, "/nbd", "");
        PlainPutConnection connection = new PlainPutConnection(base, token, TIMEOUT);
        PlainPutConnection.Upgrade upgrade;
        try {
            upgrade = connection.upgrade(target, "nbd");
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.PEER_ERROR, "POST " + target + ": " + e.getMessage(), e);
        }
        PlainPutConnection.Answer answer = upgrade.answer();
        if (upgrade.channel() == null) {
            ThinsrException failure =
                    failure("POST", target, answer.status(), new java.io.ByteArrayInputStream(answer.body()));
            if (failure.code() == ErrorCode.UNSUPPORTED || failure.code() == ErrorCode.NOT_FOUND) {
                return Optional.empty();
            }
            throw failure;
        }
        SocketChannel channel = upgrade.channel();
        try {
            String export = answer.header("Nbd-Export")
                    .orElseThrow(() -> new CorruptInputException("POST " + target
                            + ": 101 answer: header Nbd-Export: actual none, expected the export name"));
            NbdConnection nbd = NbdConnection.negotiate(channel, export, List.of(), NbdConnection.Options.DEFAULT);
            return Optional.of(NbdBlockSink.over(nbd));
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * One ranged PUT over {@code plain}; a connection the server had closed while idle is reopened
     * once (a PUT of a range is idempotent). Errors as {@link #send}'s.
     */
    private void putPlain(PlainPutConnection plain, URI target, String range, ByteBuffer buffer) throws IOException {
        int position = buffer.position();
        PlainPutConnection.Answer answer;
        try {
            try {
                answer = plain.put(target, range, buffer);
            } catch (CorruptInputException e) {
                throw e;
            } catch (IOException e) {
                buffer.position(position);
                answer = plain.put(target, range, buffer);
            }
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.PEER_ERROR, "PUT " + target + ": " + e.getMessage(), e);
        }
        if (answer.status() < 200 || answer.status() >= 300) {
            throw failure("PUT", target, answer.status(), new java.io.ByteArrayInputStream(answer.body()));
        }
    }

    /** Streams the VDI in {@code format} (optionally a delta against {@code base}) into {@code out}. */
    public long download(String vdi, String format, Optional<String> baseVdi, OutputStream out) throws IOException {
        String query = "format=" + URLEncoder.encode(format, StandardCharsets.UTF_8)
                + baseVdi.map(b -> "&base=" + URLEncoder.encode(b, StandardCharsets.UTF_8))
                        .orElse("");
        HttpResponse<InputStream> response = send(request(uri(vdi, "", query)).GET());
        long expected = response.headers().firstValueAsLong("Content-Length").orElse(-1);
        long copied;
        try (InputStream in = response.body()) {
            copied = in.transferTo(out);
        }
        if (expected >= 0 && copied != expected) {
            throw new EOFException("download ended after " + copied + " of " + expected + " bytes");
        }
        return copied;
    }

    /**
     * Uploads a whole-disk image; the server commits it only when complete and verified. Returns the
     * task id.
     */
    public String upload(String vdi, String format, InputStream body, long length) throws IOException {
        HttpRequest.BodyPublisher publisher = length >= 0
                ? HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> body), length)
                : HttpRequest.BodyPublishers.ofInputStream(() -> body);
        HttpResponse<InputStream> response =
                send(request(uri(vdi, "", "format=" + URLEncoder.encode(format, StandardCharsets.UTF_8)))
                        .PUT(publisher));
        JsonNode result = readJson(response);
        return result.path("task_id").asText();
    }

    private JsonNode json(HttpRequest.Builder request) throws IOException {
        return readJson(send(request));
    }

    private static void discard(HttpResponse<InputStream> response) throws IOException {
        try (InputStream in = response.body()) {
            in.transferTo(OutputStream.nullOutputStream());
        }
    }

    private JsonNode readJson(HttpResponse<InputStream> response) throws IOException {
        try (InputStream in = response.body()) {
            byte[] bytes = in.readNBytes(MAX_JSON_BYTES + 1);
            if (bytes.length > MAX_JSON_BYTES) {
                throw new CorruptInputException(base + ": JSON answer longer than " + MAX_JSON_BYTES + " bytes");
            }
            return JSON.readTree(bytes);
        }
    }

    /** Sends; a non-2xx answer becomes a ThinsrException with the server's code and message. */
    private HttpResponse<InputStream> send(HttpRequest.Builder request) throws IOException {
        HttpRequest built = request.build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(built, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, "interrupted: " + built.method() + " " + built.uri());
        } catch (IOException e) {
            throw new ThinsrException(
                    ErrorCode.PEER_ERROR, built.method() + " " + built.uri() + ": " + e.getMessage(), e);
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            return response;
        }
        throw failure(built.method(), built.uri(), status, response.body());
    }

    /** A non-2xx answer as a ThinsrException with the server's code and message (from its JSON body). */
    private static ThinsrException failure(String method, URI uri, int status, InputStream body) {
        String code = "HTTP_" + status;
        String message = "";
        try (InputStream in = body) {
            byte[] bytes = in.readNBytes(64 * 1024);
            JsonNode error = JSON.readTree(bytes);
            code = error.path("code").asText(code);
            message = error.path("message").asText("");
        } catch (IOException e) {
            message = "(no readable error body)";
        }
        ErrorCode errorCode = errorCode(code, status);
        return new ThinsrException(errorCode, method + " " + uri + " answered " + status + " " + code + ": " + message);
    }

    private static ErrorCode errorCode(String code, int status) {
        for (ErrorCode candidate : ErrorCode.values()) {
            if (candidate.name().equals(code)) {
                return candidate;
            }
        }
        return switch (status) {
            case 401 -> ErrorCode.UNAUTHORIZED;
            case 403 -> ErrorCode.FORBIDDEN;
            case 404 -> ErrorCode.NOT_FOUND;
            case 503 -> ErrorCode.TIMED_OUT;
            default -> ErrorCode.PEER_ERROR;
        };
    }
}
