package org.thinsr.httpexport;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockChecksums;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.allocmap.WriteBehindSink;
import org.thinsr.qmpclient.NbdUri;
import org.thinsr.qmpclient.SocketChannels;

/**
 * The HTTP surface of {@code thinsr serve}, as one Jetty core handler (blocking, run on virtual
 * threads).
 *
 * <pre>
 * GET    /vdis                               JSON list
 * POST   /vdis                               {"name_label":…,"virtual_size":…} → 201 + JSON
 * GET    /vdis/{vdi}?format=F[&amp;base=B]       export (raw | vhd | vhd-fixed | tar), Range → 206
 * HEAD   /vdis/{vdi}?format=F                 headers only
 * PUT    /vdis/{vdi}?format=F                 whole-disk import, committed only when complete
 * PUT    /vdis/{vdi} + Content-Range          raw random-access write (imageio)
 * PATCH  /vdis/{vdi}                          {"op":"zero",…} | {"op":"flush"} (imageio)
 * OPTIONS /vdis/{vdi}                         features (imageio)
 * DELETE /vdis/{vdi}                          destroy the VDI → 204
 * GET    /vdis/{vdi}/extents?context=zero|dirty[&amp;base=B]
 * GET    /vdis/{vdi}/checksum?block_size=N   SHA-256 per block (paged)
 * GET    /export_raw_vdi?vdi=…&amp;format=…        xapi-compatible export
 * PUT    /import_raw_vdi?vdi=…&amp;format=…        xapi-compatible import: 200 + task-id before the body
 * GET    /tasks, /tasks/{id}                  transfer status, progress, error
 * GET    /metrics                             Prometheus text
 * </pre>
 *
 * Failures answer with the status of their {@link ErrorCode} and a JSON body {@code
 * {"code":…,"message":…}}.
 */
final class HttpApi extends Handler.Abstract {
    static final int IO_BUFFER_BYTES = 1 << 20;

    /** The protocol named in {@code Upgrade} by {@code POST /vdis/{vdi}/nbd}. */
    static final String NBD_PROTOCOL = "nbd";

    /** The answer header that names the export behind the NBD tunnel. */
    static final String NBD_EXPORT_HEADER = "Nbd-Export";

    /** Buffers (and so writes in flight) of one ranged write request. */
    static final int RANGED_WRITE_BUFFERS = 4;

    /** Direct buffers kept for ranged writes between requests. */
    private static final int MAX_POOLED_IO_BUFFERS = 8 * RANGED_WRITE_BUFFERS;

    private final java.util.concurrent.ConcurrentLinkedQueue<ByteBuffer> ioBuffers =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    static final long MAX_JSON_BODY_BYTES = 64 * 1024;
    static final int MAX_EXTENTS_PAGE = 1_000_000;
    static final long MAX_CHECKSUM_BLOCKS = 65_536;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final DiskStore store;
    private final Formats formats;
    private final Authenticator authenticator;
    private final ConcurrencyLimiter limiter;
    private final Metrics metrics;
    private final Tasks tasks;
    private final Consumer<String> accessLog;

    HttpApi(
            DiskStore store,
            Formats formats,
            Authenticator authenticator,
            ConcurrencyLimiter limiter,
            Metrics metrics,
            Tasks tasks,
            Consumer<String> accessLog) {
        this.store = store;
        this.formats = formats;
        this.authenticator = authenticator;
        this.limiter = limiter;
        this.metrics = metrics;
        this.tasks = tasks;
        this.accessLog = accessLog;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        long started = System.nanoTime();
        String path = Request.getPathInContext(request);
        CountingOutput counted = null;
        try {
            metrics.requests.increment();
            if (!authenticator.allows(request.getHeaders().get(HttpHeader.AUTHORIZATION))) {
                response.getHeaders()
                        .put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"thinsr\", Basic realm=\"thinsr\"");
                throw new ThinsrException(ErrorCode.UNAUTHORIZED, "missing or wrong credentials");
            }
            counted = new CountingOutput(response, metrics);
            route(request, response, path, counted);
            counted.close();
            callback.succeeded();
        } catch (Throwable failure) {
            fail(response, callback, failure);
        } finally {
            metrics.status(response.getStatus());
            accessLog.accept(String.format(
                    Locale.ROOT,
                    "%s %s %s %d %d %.1fms",
                    Request.getRemoteAddr(request),
                    request.getMethod(),
                    path,
                    response.getStatus(),
                    counted == null ? 0 : counted.count,
                    (System.nanoTime() - started) / 1e6));
        }
        return true;
    }

    private void route(Request request, Response response, String path, CountingOutput out) throws Exception {
        String method = request.getMethod();
        List<String> segments = segments(path);
        Fields query = Request.extractQueryParameters(request, StandardCharsets.UTF_8);
        if (segments.equals(List.of("metrics")) && method.equals("GET")) {
            sendText(response, out, "text/plain; version=0.0.4", metrics.render(limiter.active()));
        } else if (segments.size() >= 1 && segments.get(0).equals("tasks") && method.equals("GET")) {
            getTasks(response, out, segments);
        } else if (segments.equals(List.of("vdis"))) {
            switch (method) {
                case "GET" -> sendJson(response, out, 200, listVdis());
                case "POST" -> createVdi(request, response, out);
                default -> throw methodNotAllowed(method, path);
            }
        } else if (segments.size() == 2 && segments.get(0).equals("vdis")) {
            String vdi = segments.get(1);
            switch (method) {
                case "GET", "HEAD" -> export(request, response, out, vdi, query, method.equals("HEAD"), null);
                case "PUT" -> put(request, response, out, vdi, query, false);
                case "PATCH" -> patch(request, response, vdi);
                case "OPTIONS" -> options(response, out);
                case "DELETE" -> {
                    if (!store.destroy(vdi)) {
                        throw new ThinsrException(ErrorCode.VDI_NOT_FOUND, "no VDI " + vdi, vdi);
                    }
                    response.setStatus(204);
                }
                default -> throw methodNotAllowed(method, path);
            }
        } else if (segments.size() == 3
                && segments.get(0).equals("vdis")
                && segments.get(2).equals("nbd")) {
            if (!method.equals("POST")) {
                throw methodNotAllowed(method, path);
            }
            nbdTunnel(request, response, segments.get(1));
        } else if (segments.size() == 3
                && segments.get(0).equals("vdis")
                && segments.get(2).equals("extents")) {
            if (!method.equals("GET")) {
                throw methodNotAllowed(method, path);
            }
            extents(response, out, segments.get(1), query);
        } else if (segments.size() == 3
                && segments.get(0).equals("vdis")
                && segments.get(2).equals("checksum")) {
            if (!method.equals("GET")) {
                throw methodNotAllowed(method, path);
            }
            checksums(response, out, segments.get(1), query);
        } else if (segments.equals(List.of("export_raw_vdi"))) {
            if (!method.equals("GET") && !method.equals("HEAD")) {
                throw methodNotAllowed(method, path);
            }
            String vdi = requiredXapiParameter(request, query, "vdi");
            export(request, response, out, vdi, query, method.equals("HEAD"), xapiParameter(request, query, "task_id"));
        } else if (segments.equals(List.of("import_raw_vdi"))) {
            if (!method.equals("PUT")) {
                throw methodNotAllowed(method, path);
            }
            put(request, response, out, requiredXapiParameter(request, query, "vdi"), query, true);
        } else {
            throw new ThinsrException(ErrorCode.NOT_FOUND, "no such resource: " + method + " " + path);
        }
    }

    // ---- VDIs --------------------------------------------------------------------------------

    private ArrayNode listVdis() {
        ArrayNode list = JSON.createArrayNode();
        for (DiskStore.DiskInfo disk : store.list()) {
            list.add(diskJson(disk));
        }
        return list;
    }

    private static ObjectNode diskJson(DiskStore.DiskInfo disk) {
        ObjectNode node = JSON.createObjectNode();
        node.put("id", disk.id());
        node.put("name_label", disk.nameLabel());
        node.put("virtual_size", disk.virtualSize());
        node.put("read_only", disk.readOnly());
        return node;
    }

    private void createVdi(Request request, Response response, CountingOutput out) throws IOException {
        JsonNode body = readJson(request);
        String name = text(body, "name_label");
        long size = number(body, "virtual_size");
        DiskStore.DiskInfo disk = store.create(name, size);
        response.getHeaders().put(HttpHeader.LOCATION, "/vdis/" + disk.id());
        sendJson(response, out, 201, diskJson(disk));
    }

    private void export(
            Request request,
            Response response,
            CountingOutput out,
            String vdi,
            Fields query,
            boolean headOnly,
            String taskId)
            throws Exception {
        String format = Optional.ofNullable(parameter(query, "format")).orElse("raw");
        Optional<String> base = Optional.ofNullable(parameter(query, "base"));
        String client = Request.getRemoteAddr(request);
        if (!limiter.tryAcquire(client)) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            throw new Busy();
        }
        try (DiskStore.ExportView view = store.openForExport(vdi, base)) {
            ResponseBody body = formats.exportBody(format, view);
            String etag = "\"" + view.etag() + "-" + format
                    + (base.isPresent() ? "-" + base.get().hashCode() : "") + "\"";
            response.getHeaders().put(HttpHeader.ETAG, etag);
            response.getHeaders().put(HttpHeader.ACCEPT_RANGES, "bytes");
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, body.contentType());
            Optional<ByteRange> range;
            String ifRange = request.getHeaders().get(HttpHeader.IF_RANGE);
            try {
                range = ifRange != null && !ifRange.equals(etag)
                        ? Optional.empty()
                        : ByteRange.parse(request.getHeaders().get(HttpHeader.RANGE), body.length());
            } catch (ByteRange.UnsatisfiableException e) {
                response.getHeaders().put(HttpHeader.CONTENT_RANGE, "bytes */" + body.length());
                throw e;
            }
            long from = range.map(ByteRange::start).orElse(0L);
            long to = range.map(ByteRange::end).orElse(body.length());
            if (range.isPresent()) {
                response.setStatus(206);
                response.getHeaders().put(HttpHeader.CONTENT_RANGE, range.get().contentRange());
            } else {
                response.setStatus(200);
            }
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, to - from);
            if (headOnly) {
                return;
            }
            Tasks.Task task = tasks.start(taskId, "export", vdi, to - from);
            try {
                out.task = task;
                body.writeRange(from, to, out);
                out.flush();
                task.succeed();
            } catch (IOException | RuntimeException e) {
                ErrorReport report = ErrorReport.of(e);
                task.fail(report.code(), report.message());
                throw e;
            }
        } finally {
            limiter.release(client);
        }
    }

    private void put(Request request, Response response, CountingOutput out, String vdi, Fields query, boolean xapi)
            throws Exception {
        String contentRange = request.getHeaders().get(HttpHeader.CONTENT_RANGE);
        if (contentRange != null && !xapi) {
            randomAccessWrite(request, response, vdi, contentRange);
            return;
        }
        String format = Optional.ofNullable(parameter(query, "format")).orElse("raw");
        boolean chunked = "true".equalsIgnoreCase(parameter(query, "chunked"))
                || "true".equalsIgnoreCase(cookie(request, "chunked"));
        String client = Request.getRemoteAddr(request);
        if (!limiter.tryAcquire(client)) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            throw new Busy();
        }
        long declared = request.getLength();
        Tasks.Task task = tasks.start(xapiParameter(request, query, "task_id"), "import", vdi, Math.max(declared, 0));
        try {
            DiskStore.DiskInfo disk = store.find(vdi);
            if (disk.readOnly()) {
                throw new ThinsrException(ErrorCode.VDI_IS_TEMPLATE, "VDI " + vdi + " is read-only");
            }
            Formats.Importer importer = formats.importer(chunked ? "chunked" : format);
            response.getHeaders().put("task-id", task.id());
            boolean expectsContinue =
                    "100-continue".equalsIgnoreCase(request.getHeaders().get(HttpHeader.EXPECT));
            if (xapi && !expectsContinue) {
                // xapi sends its 200 with the task id before it reads the body; the outcome is in the task.
                // (A client that asked for 100-continue waits for it instead: it gets the usual answer.)
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
                out.flush();
            }
            try (DiskStore.ImportTarget target = store.beginImport(vdi, chunked);
                    CountingInput in = new CountingInput(Content.Source.asInputStream(request), metrics, task)) {
                try (BlockSink staging = StandardFormats.writeBehind(target.sink())) {
                    importer.read(in, declared, disk.virtualSize(), staging);
                    staging.flush(); // waits for every write: nothing may still be in flight below
                }
                if (declared >= 0 && in.count != declared) {
                    throw new CorruptInputException("request body: length: actual " + in.count + " bytes, expected "
                            + declared + " (Content-Length)");
                }
                target.sink().flush();
                target.commit();
            }
            task.succeed();
            if (!response.isCommitted()) {
                ObjectNode result = JSON.createObjectNode();
                result.put("task_id", task.id());
                result.put("status", "success");
                sendJson(response, out, 200, result);
            }
        } catch (Throwable e) {
            ErrorReport report = ErrorReport.of(e);
            task.fail(report.code(), report.message());
            metrics.error(report.code());
            if (xapi && response.isCommitted()) {
                return; // the client reads the failure from GET /tasks/{id}
            }
            throw e;
        } finally {
            limiter.release(client);
        }
    }

    private void randomAccessWrite(Request request, Response response, String vdi, String contentRange)
            throws Exception {
        long[] range = parseContentRange(contentRange);
        long start = range[0];
        long length = range[1] - range[0] + 1;
        if (request.getLength() >= 0 && request.getLength() != length) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "Content-Range covers " + length + " bytes but Content-Length is " + request.getLength());
        }
        try (DiskStore.WriteHandle handle = store.openForWrite(vdi);
                BodyReader body = new BodyReader(request, metrics)) {
            BlockSink sink = handle.sink();
            if (range[1] >= sink.size()) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "Content-Range ends at " + range[1] + " but the disk has " + sink.size() + " bytes");
            }
            // the body is read into one buffer while those before it are written: the socket keeps
            // flowing while the disk (an NBD round trip, for a file SR) takes its writes; after
            // RANGED_WRITE_BUFFERS buffers, every write is waited for before they are filled again
            List<ByteBuffer> buffers = new ArrayList<>();
            WriteBehindSink writes = new WriteBehindSink(sink, RANGED_WRITE_BUFFERS, StandardFormats.IO, false);
            try {
                long offset = start;
                for (int k = 0; offset <= range[1]; k++) {
                    if (buffers.size() < RANGED_WRITE_BUFFERS) {
                        buffers.add(takeIoBuffer());
                    } else if (k % RANGED_WRITE_BUFFERS == 0) {
                        writes.drain();
                    }
                    ByteBuffer buffer = buffers.get(k % RANGED_WRITE_BUFFERS);
                    int n = (int) Math.min(buffer.capacity(), range[1] + 1 - offset);
                    buffer.clear().limit(n);
                    body.fillFully(buffer, length);
                    writes.writeRetained(offset, buffer.flip());
                    offset += n;
                }
                writes.drain();
            } finally {
                writes.close(); // waits for writes still in flight before the buffers go back
                buffers.forEach(this::returnIoBuffer);
            }
            if ("y".equals(parameter(Request.extractQueryParameters(request), "flush"))) {
                sink.flush();
            }
        }
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
    }

    /** A direct buffer of {@link #IO_BUFFER_BYTES} for a ranged write, reused across requests. */
    private ByteBuffer takeIoBuffer() {
        ByteBuffer buffer = ioBuffers.poll();
        return buffer != null ? buffer.clear() : ByteBuffer.allocateDirect(IO_BUFFER_BYTES);
    }

    private void returnIoBuffer(ByteBuffer buffer) {
        if (ioBuffers.size() < MAX_POOLED_IO_BUFFERS) {
            ioBuffers.offer(buffer);
        }
    }

    /**
     * {@code POST /vdis/{vdi}/nbd} with {@code Upgrade: nbd}: answers {@code 101 Switching Protocols}
     * with the export's name in {@code Nbd-Export}, and the connection becomes an {@link NbdTunnel}
     * to the daemon that serves the VDI's writes; the VDI stays open for writing until the tunnel
     * closes. 501 ({@code UNSUPPORTED}) when no daemon serves them (an LVM SR's block device): the
     * client writes with ranged PUTs instead.
     */
    private void nbdTunnel(Request request, Response response, String vdi) throws IOException {
        String upgrade = request.getHeaders().get(HttpHeader.UPGRADE);
        if (upgrade == null || !upgrade.strip().equalsIgnoreCase(NBD_PROTOCOL)) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "POST /vdis/{vdi}/nbd: header Upgrade: actual " + (upgrade == null ? "none" : "'" + upgrade + "'")
                            + ", expected '" + NBD_PROTOCOL + "'");
        }
        DiskStore.WriteHandle handle = store.openForWrite(vdi);
        SocketChannel daemon = null;
        try {
            NbdUri target = handle.nbdTarget()
                    .map(NbdUri::parse)
                    .orElseThrow(() -> new ThinsrException(
                            ErrorCode.UNSUPPORTED,
                            "VDI " + vdi + " is not served by an NBD daemon here: write it with ranged PUTs"));
            daemon = SocketChannels.connect(target);
            EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
            NbdTunnel tunnel = new NbdTunnel(endPoint, daemon, metrics, () -> closeQuietly(handle));
            request.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, tunnel);
            // a client gone before the 101 went out: no upgrade, so no tunnel to release the VDI
            Request.addCompletionListener(request, failure -> {
                if (failure != null) {
                    tunnel.abandon();
                }
            });
            response.setStatus(101);
            response.getHeaders().put(HttpHeader.UPGRADE, NBD_PROTOCOL);
            response.getHeaders().put(HttpHeader.CONNECTION, "Upgrade");
            response.getHeaders().put(NBD_EXPORT_HEADER, target.exportName());
        } catch (IOException | RuntimeException e) {
            if (daemon != null) {
                daemon.close();
            }
            handle.close();
            throw e;
        }
    }

    private static void closeQuietly(java.io.Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException ignored) {
            // releasing a VDI after its tunnel closed; nothing is waiting for the outcome
        }
    }

    /** {@code bytes FIRST-LAST/TOTAL} or {@code bytes FIRST-LAST/*} → {first, last}. */
    static long[] parseContentRange(String header) {
        String value = header.strip();
        if (!value.startsWith("bytes ") || value.length() > 80) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "Content-Range: expected 'bytes FIRST-LAST/TOTAL', got '" + value + "'");
        }
        String spec = value.substring(6);
        int dash = spec.indexOf('-');
        int slash = spec.indexOf('/');
        if (dash <= 0 || slash < dash) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "Content-Range: expected 'bytes FIRST-LAST/TOTAL', got '" + value + "'");
        }
        try {
            long first = Long.parseLong(spec.substring(0, dash));
            long last = Long.parseLong(spec.substring(dash + 1, slash));
            if (first < 0 || last < first) {
                throw new NumberFormatException();
            }
            return new long[] {first, last};
        } catch (NumberFormatException e) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "Content-Range: bad range '" + value + "'");
        }
    }

    private void patch(Request request, Response response, String vdi) throws IOException {
        JsonNode body = readJson(request);
        String op = text(body, "op");
        try (DiskStore.WriteHandle handle = store.openForWrite(vdi)) {
            BlockSink sink = handle.sink();
            switch (op) {
                case "zero" -> {
                    long offset = number(body, "offset");
                    long size = number(body, "size");
                    if (offset + size > sink.size() || offset + size < 0) {
                        throw new ThinsrException(
                                ErrorCode.INVALID_ARGUMENT,
                                "zero range [" + offset + ", " + (offset + size) + ") passes the disk end "
                                        + sink.size());
                    }
                    sink.writeZeroes(offset, size);
                    if (body.path("flush").asBoolean(false)) {
                        sink.flush();
                    }
                }
                case "flush" -> sink.flush();
                default ->
                    throw new ThinsrException(
                            ErrorCode.INVALID_ARGUMENT, "PATCH op: actual '" + op + "', expected zero or flush");
            }
        }
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
    }

    private void options(Response response, CountingOutput out) throws IOException {
        ObjectNode body = JSON.createObjectNode();
        ArrayNode features = body.putArray("features");
        features.add("extents").add("zero").add("flush");
        body.put("max_readers", 8);
        body.put("max_writers", 8);
        ArrayNode exportFormats = body.putArray("export_formats");
        formats.exportFormats().forEach(exportFormats::add);
        ArrayNode importFormats = body.putArray("import_formats");
        formats.importFormats().forEach(importFormats::add);
        response.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD, PUT, PATCH, OPTIONS, DELETE");
        sendJson(response, out, 200, body);
    }

    private void extents(Response response, CountingOutput out, String vdi, Fields query) throws IOException {
        String context = Optional.ofNullable(parameter(query, "context")).orElse("zero");
        Optional<String> base = Optional.ofNullable(parameter(query, "base"));
        long startAt = parseLong(parameter(query, "start"), 0, "start");
        long limit = parseLong(parameter(query, "limit"), MAX_EXTENTS_PAGE, "limit");
        if (limit < 1 || limit > MAX_EXTENTS_PAGE) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "limit: actual " + limit + ", expected 1 to " + MAX_EXTENTS_PAGE);
        }
        ArrayNode list = JSON.createArrayNode();
        long next = -1;
        try (DiskStore.ExportView view = store.openForExport(vdi, base)) {
            AllocationMap map = view.map();
            switch (context) {
                case "zero" -> {
                    int first = startAt >= map.virtualSize() ? map.runCount() : map.runIndexAt(startAt);
                    for (int i = first; i < map.runCount(); i++) {
                        if (list.size() == limit) {
                            next = map.runStart(i);
                            break;
                        }
                        long start = Math.max(startAt, map.runStart(i));
                        ObjectNode extent = list.addObject();
                        extent.put("start", start);
                        extent.put("length", map.runEnd(i) - start);
                        extent.put("zero", map.runState(i) != State.DATA);
                        extent.put("hole", map.runState(i) == State.HOLE);
                    }
                }
                case "dirty" -> {
                    ExtentSet changed = view.changed().orElse(map.dataExtents());
                    ExtentSet clean = changed.complement(map.virtualSize());
                    long position = startAt;
                    while (position < map.virtualSize()) {
                        if (list.size() == limit) {
                            next = position;
                            break;
                        }
                        boolean dirty = changed.contains(position);
                        ExtentSet side = dirty ? changed : clean;
                        int index = side.indexOfExtentContainingOrAfter(position);
                        long end = side.end(index);
                        ObjectNode extent = list.addObject();
                        extent.put("start", position);
                        extent.put("length", end - position);
                        extent.put("dirty", dirty);
                        position = end;
                    }
                }
                default ->
                    throw new ThinsrException(
                            ErrorCode.INVALID_ARGUMENT, "context: actual '" + context + "', expected zero or dirty");
            }
        }
        if (next >= 0) {
            response.getHeaders().put("X-Next-Start", Long.toString(next));
        }
        sendJson(response, out, 200, list);
    }

    /**
     * {@code GET /vdis/{vdi}/checksum?block_size=B&start=S&length=L}: SHA-256 of every block (see
     * {@link BlockChecksums}), at most {@value #MAX_CHECKSUM_BLOCKS} blocks a request; the answer
     * says where the next page starts.
     */
    private void checksums(Response response, CountingOutput out, String vdi, Fields query) throws IOException {
        long blockSize = parseLong(parameter(query, "block_size"), 1 << 20, "block_size");
        if (blockSize > BlockChecksums.MAX_BLOCK_BYTES) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "block_size: actual " + blockSize + ", expected at most " + BlockChecksums.MAX_BLOCK_BYTES);
        }
        try (DiskStore.ExportView view = store.openForExport(vdi, Optional.empty())) {
            long size = view.map().virtualSize();
            long start = parseLong(parameter(query, "start"), 0, "start");
            long length = parseLong(parameter(query, "length"), size - Math.min(start, size), "length");
            if (start > size || start % blockSize != 0) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "start: actual " + start + ", expected a multiple of " + blockSize + " in [0, " + size + "]");
            }
            long end = Math.min(size, start + Math.min(length, MAX_CHECKSUM_BLOCKS * blockSize));
            String[] sums;
            try {
                sums = BlockChecksums.compute(view.source(), view.map(), (int) blockSize, start, end);
            } catch (IllegalArgumentException e) {
                throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, e.getMessage());
            }
            ObjectNode body = JSON.createObjectNode();
            body.put("algorithm", "sha256");
            body.put("block_size", blockSize);
            body.put("virtual_size", size);
            body.put("start", start);
            body.put("end", end);
            ArrayNode list = body.putArray("checksums");
            for (String sum : sums) {
                list.add(sum);
            }
            sendJson(response, out, 200, body);
        }
    }

    private void getTasks(Response response, CountingOutput out, List<String> segments) throws IOException {
        if (segments.size() == 1) {
            ArrayNode list = JSON.createArrayNode();
            for (Tasks.Task task : tasks.list()) {
                list.add(taskJson(task));
            }
            sendJson(response, out, 200, list);
        } else if (segments.size() == 2) {
            Tasks.Task task = tasks.get(segments.get(1))
                    .orElseThrow(() -> new ThinsrException(ErrorCode.NOT_FOUND, "no task " + segments.get(1)));
            sendJson(response, out, 200, taskJson(task));
        } else {
            throw new ThinsrException(ErrorCode.NOT_FOUND, "no such resource");
        }
    }

    private static ObjectNode taskJson(Tasks.Task task) {
        ObjectNode node = JSON.createObjectNode();
        node.put("id", task.id());
        node.put("operation", task.operation());
        node.put("vdi", task.vdi());
        node.put("status", task.status().name().toLowerCase(Locale.ROOT));
        node.put("progress", task.progressFraction());
        node.put("done_bytes", task.doneBytes());
        node.put("total_bytes", task.totalBytes());
        node.put("created", task.created().toString());
        task.finished().ifPresent(finished -> node.put("finished", finished.toString()));
        task.errorCode().ifPresent(code -> node.put("error_code", code.name()));
        task.errorMessage().ifPresent(message -> node.put("error", message));
        return node;
    }

    // ---- helpers -----------------------------------------------------------------------------

    private void fail(Response response, Callback callback, Throwable failure) {
        if (failure instanceof Busy) {
            sendError(response, callback, 503, "BUSY", "too many transfers in flight; retry later");
            return;
        }
        if (failure instanceof ByteRange.UnsatisfiableException unsatisfiable) {
            sendError(response, callback, 416, "RANGE_NOT_SATISFIABLE", unsatisfiable.getMessage());
            return;
        }
        ErrorReport report = ErrorReport.of(failure);
        metrics.error(report.code());
        if (response.isCommitted()) {
            // Headers (and maybe part of the body) are out: the only honest signal left is to abort.
            callback.failed(failure);
            return;
        }
        sendError(response, callback, report.code().httpStatus(), report.code().name(), report.message());
    }

    private static void sendError(Response response, Callback callback, int status, String code, String message) {
        ObjectNode body = JSON.createObjectNode();
        body.put("code", code);
        body.put("message", message);
        byte[] bytes = (body.toString() + "\n").getBytes(StandardCharsets.UTF_8);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        response.write(true, ByteBuffer.wrap(bytes), callback);
    }

    private static void sendJson(Response response, CountingOutput out, int status, JsonNode body) throws IOException {
        byte[] bytes;
        try {
            bytes = (JSON.writeValueAsString(body) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IOException(e);
        }
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        out.write(bytes);
    }

    private static void sendText(Response response, CountingOutput out, String type, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        out.write(bytes);
    }

    private static JsonNode readJson(Request request) throws IOException {
        if (request.getLength() > MAX_JSON_BODY_BYTES) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "JSON body of " + request.getLength() + " bytes, expected at most " + MAX_JSON_BODY_BYTES);
        }
        byte[] bytes;
        try (InputStream in = Content.Source.asInputStream(request)) {
            bytes = in.readNBytes((int) MAX_JSON_BODY_BYTES + 1);
        }
        if (bytes.length > MAX_JSON_BODY_BYTES) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "JSON body longer than " + MAX_JSON_BODY_BYTES + " bytes");
        }
        try {
            JsonNode node = JSON.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw new CorruptInputException("request body: expected a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new CorruptInputException("request body: invalid JSON: " + e.getOriginalMessage());
        }
    }

    private static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || !value.isTextual()) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "field '" + field + "': expected a string");
        }
        return value.asText();
    }

    private static long number(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || !value.canConvertToLong() || !value.isIntegralNumber() || value.asLong() < 0) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "field '" + field + "': expected a non-negative integer");
        }
        return value.asLong();
    }

    private static long parseLong(String text, long fallback, String name) {
        if (text == null) {
            return fallback;
        }
        try {
            long value = Long.parseLong(text);
            if (value < 0) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, name + ": actual '" + text + "', expected a non-negative integer");
        }
    }

    private static String parameter(Fields query, String name) {
        Fields.Field field = query.get(name);
        return field == null ? null : field.getValue();
    }

    /** A xapi parameter: from the query, else from a cookie of the same name. */
    private static String xapiParameter(Request request, Fields query, String name) {
        String value = parameter(query, name);
        return value != null ? value : cookie(request, name);
    }

    private static String requiredXapiParameter(Request request, Fields query, String name) {
        String value = xapiParameter(request, query, name);
        if (value == null || value.isBlank()) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "missing parameter '" + name + "'");
        }
        return value;
    }

    private static String cookie(Request request, String name) {
        for (HttpField field : request.getHeaders()) {
            if (field.getHeader() != HttpHeader.COOKIE) {
                continue;
            }
            for (String pair : field.getValue().split(";")) {
                int equals = pair.indexOf('=');
                if (equals > 0 && pair.substring(0, equals).strip().equals(name)) {
                    return pair.substring(equals + 1).strip();
                }
            }
        }
        return null;
    }

    static List<String> segments(String path) {
        String trimmed = path.startsWith("/") ? path.substring(1) : path;
        if (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return trimmed.isEmpty() ? List.of() : List.of(trimmed.split("/", -1));
    }

    private static ThinsrException methodNotAllowed(String method, String path) {
        return new ThinsrException(ErrorCode.UNSUPPORTED, method + " is not allowed on " + path);
    }

    /** Too many transfers: answered with 503 and Retry-After. */
    private static final class Busy extends Exception {
        private static final long serialVersionUID = 1L;
    }

    /** The code and message a failure is reported with (HTTP body, task, metrics). */
    record ErrorReport(ErrorCode code, String message) {
        static ErrorReport of(Throwable failure) {
            return switch (failure) {
                case ThinsrException thinsr -> new ErrorReport(thinsr.code(), thinsr.getMessage());
                case CorruptInputException corrupt -> new ErrorReport(corrupt.code(), corrupt.getMessage());
                case org.eclipse.jetty.io.EofException eof ->
                    new ErrorReport(ErrorCode.CANCELLED, "client disconnected: " + String.valueOf(eof.getMessage()));
                case EOFException eof ->
                    new ErrorReport(
                            ErrorCode.CORRUPT_INPUT, "request body ended early: " + String.valueOf(eof.getMessage()));
                case IOException io -> new ErrorReport(ErrorCode.IO_ERROR, String.valueOf(io.getMessage()));
                default ->
                    new ErrorReport(
                            ErrorCode.INTERNAL_ERROR, failure.getClass().getSimpleName() + ": " + failure.getMessage());
            };
        }
    }

    /** The response body stream, counting bytes for metrics, the access log and the task. */
    private static final class CountingOutput extends OutputStream {
        private final Response response;
        private final Metrics metrics;
        private OutputStream delegate;
        private long count;
        private Tasks.Task task;

        CountingOutput(Response response, Metrics metrics) {
            this.response = response;
            this.metrics = metrics;
        }

        private OutputStream delegate() {
            if (delegate == null) {
                delegate = Content.Sink.asOutputStream(response);
            }
            return delegate;
        }

        @Override
        public void write(int b) throws IOException {
            delegate().write(b);
            counted(1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            delegate().write(bytes, offset, length);
            counted(length);
        }

        private void counted(long n) {
            count += n;
            metrics.bytesOut.add(n);
            if (task != null) {
                task.progress(n);
            }
        }

        @Override
        public void flush() throws IOException {
            delegate().flush();
        }

        @Override
        public void close() throws IOException {
            delegate().close();
        }
    }

    /** The request body stream, counting bytes for metrics and the task. */
    static final class CountingInput extends InputStream {
        private final InputStream delegate;
        private final Metrics metrics;
        private final Tasks.Task task;
        long count;

        CountingInput(InputStream delegate, Metrics metrics, Tasks.Task task) {
            this.delegate = delegate;
            this.metrics = metrics;
            this.task = task;
        }

        @Override
        public int read() throws IOException {
            int b = delegate.read();
            if (b >= 0) {
                counted(1);
            }
            return b;
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            int n = delegate.read(bytes, offset, length);
            if (n > 0) {
                counted(n);
            }
            return n;
        }

        private void counted(long n) {
            count += n;
            metrics.bytesIn.add(n);
            if (task != null) {
                task.progress(n);
            }
        }

        @Override
        public void close() throws IOException {
            delegate.close();
        }
    }
}
