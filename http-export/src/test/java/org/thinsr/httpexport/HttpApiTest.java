package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HttpApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SIZE = 1 << 20;

    private final MemoryDiskStore store = new MemoryDiskStore();
    private final List<String> accessLog = Collections.synchronizedList(new ArrayList<>());
    private final HttpClient client = HttpClient.newHttpClient();
    private ThinsrServer server;
    private byte[] disk;

    @BeforeEach
    void start() throws IOException {
        disk = new byte[SIZE];
        Random random = new Random(42);
        byte[] chunk = new byte[8192];
        random.nextBytes(chunk);
        System.arraycopy(chunk, 0, disk, 4096, chunk.length);
        disk[SIZE - 1] = 7;
        store.put("disk1", disk.clone());
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store, Formats.raw(), accessLog::add);
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
        return client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(server.uri().resolve(path));
    }

    @Test
    void listsVdisAsJson() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis"));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode list = JSON.readTree(response.body());
        assertThat(list.get(0).get("id").asText()).isEqualTo("disk1");
        assertThat(list.get(0).get("virtual_size").asLong()).isEqualTo(SIZE);
    }

    @Test
    void rawExportHasExactLengthEtagAndTheDiskBytes() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis/disk1?format=raw"));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValueAsLong("Content-Length")).hasValue(SIZE);
        assertThat(response.headers().firstValue("Accept-Ranges")).hasValue("bytes");
        assertThat(response.headers().firstValue("ETag")).isPresent();
        assertThat(response.body()).isEqualTo(disk);
        assertThat(accessLog).anySatisfy(line -> assertThat(line).contains("GET /vdis/disk1 200 " + SIZE));
    }

    @Test
    void rangeIsAnsweredWith206AndOnlyThoseBytes() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis/disk1").header("Range", "bytes=4000-12999"));
        assertThat(response.statusCode()).isEqualTo(206);
        assertThat(response.headers().firstValue("Content-Range")).hasValue("bytes 4000-12999/" + SIZE);
        assertThat(response.body()).isEqualTo(Arrays.copyOfRange(disk, 4000, 13000));

        HttpResponse<byte[]> suffix = send(request("/vdis/disk1").header("Range", "bytes=-10"));
        assertThat(suffix.statusCode()).isEqualTo(206);
        assertThat(suffix.body()).isEqualTo(Arrays.copyOfRange(disk, SIZE - 10, SIZE));
    }

    @Test
    void rangePastTheEndIs416WithTheLength() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis/disk1").header("Range", "bytes=" + SIZE + "-"));
        assertThat(response.statusCode()).isEqualTo(416);
        assertThat(response.headers().firstValue("Content-Range")).hasValue("bytes */" + SIZE);
    }

    @Test
    void headSendsTheHeadersOnly() throws Exception {
        HttpResponse<byte[]> response =
                send(request("/vdis/disk1").method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValueAsLong("Content-Length")).hasValue(SIZE);
        assertThat(response.body()).isEmpty();
    }

    @Test
    void unknownVdiIs404WithTheErrorCode() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis/nope"));
        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(response.body()).get("code").asText()).isEqualTo("VDI_NOT_FOUND");
    }

    @Test
    void rawImportReplacesTheDiskOnlyWhenComplete() throws Exception {
        byte[] upload = new byte[SIZE];
        new Random(7).nextBytes(upload);
        HttpResponse<byte[]> response =
                send(request("/vdis/disk1?format=raw").PUT(HttpRequest.BodyPublishers.ofByteArray(upload)));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(store.content("disk1")).isEqualTo(upload);
        String taskId = response.headers().firstValue("task-id").orElseThrow();
        JsonNode task = JSON.readTree(send(request("/tasks/" + taskId)).body());
        assertThat(task.get("status").asText()).isEqualTo("success");
    }

    @Test
    void importLongerThanTheDiskIsRejectedAndLeavesItUnchanged() throws Exception {
        HttpResponse<byte[]> response =
                send(request("/vdis/disk1?format=raw").PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[SIZE + 1])));
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("code").asText()).isEqualTo("CORRUPT_INPUT");
        assertThat(store.content("disk1")).isEqualTo(disk);
        assertThat(store.commits).isZero();
    }

    @Test
    void truncatedUploadLeavesTheDiskUnchangedAndTheTaskFailed() throws Exception {
        try (Socket socket = new Socket(java.net.InetAddress.getLoopbackAddress(), server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /vdis/disk1?format=raw HTTP/1.1\r\nHost: x\r\nContent-Length: " + SIZE + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[SIZE / 2]);
            out.flush();
        }
        JsonNode tasks = awaitFinishedTask();
        assertThat(tasks.get("status").asText()).isEqualTo("failure");
        assertThat(store.content("disk1")).isEqualTo(disk);
        assertThat(store.commits).isZero();
    }

    private JsonNode awaitFinishedTask() throws Exception {
        for (int i = 0; i < 200; i++) {
            JsonNode tasks = JSON.readTree(send(request("/tasks")).body());
            for (JsonNode task : tasks) {
                if (!task.get("status").asText().equals("running")) {
                    return task;
                }
            }
            Thread.sleep(25);
        }
        throw new AssertionError("no task finished");
    }

    @Test
    void xapiImportAnswers200WithTaskIdBeforeTheBodyAndReportsThroughTheTask() throws Exception {
        byte[] upload = new byte[SIZE];
        upload[12345] = 1;
        try (Socket socket = new Socket(java.net.InetAddress.getLoopbackAddress(), server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /import_raw_vdi?vdi=disk1&format=raw&task_id=T1 HTTP/1.1\r\nHost: x\r\nContent-Length: "
                            + SIZE + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 200").containsIgnoringCase("task-id: T1");
            out.write(upload);
            out.flush();
            JsonNode task = null;
            for (int i = 0; i < 200; i++) {
                task = JSON.readTree(send(request("/tasks/T1")).body());
                if (!task.get("status").asText().equals("running")) {
                    break;
                }
                Thread.sleep(25);
            }
            assertThat(task.get("status").asText()).isEqualTo("success");
        }
        assertThat(store.content("disk1")).isEqualTo(upload);
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.append((char) b);
        }
        return head.toString();
    }

    @Test
    void randomAccessPutAndPatchZeroWriteInPlace() throws Exception {
        byte[] patch = "hello".getBytes(StandardCharsets.US_ASCII);
        HttpResponse<byte[]> put = send(request("/vdis/disk1")
                .header("Content-Range", "bytes 100-104/*")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(patch)));
        assertThat(put.statusCode()).isEqualTo(200);
        HttpResponse<byte[]> zero = send(request("/vdis/disk1")
                .method(
                        "PATCH",
                        HttpRequest.BodyPublishers.ofString("{\"op\":\"zero\",\"offset\":4096,\"size\":4096}")));
        assertThat(zero.statusCode()).isEqualTo(200);
        byte[] expected = disk.clone();
        System.arraycopy(patch, 0, expected, 100, patch.length);
        Arrays.fill(expected, 4096, 8192, (byte) 0);
        assertThat(store.content("disk1")).isEqualTo(expected);
    }

    @Test
    void extentsFollowImageioShape() throws Exception {
        JsonNode extents =
                JSON.readTree(send(request("/vdis/disk1/extents?context=zero")).body());
        long covered = 0;
        for (JsonNode extent : extents) {
            assertThat(extent.get("start").asLong()).isEqualTo(covered);
            covered += extent.get("length").asLong();
        }
        assertThat(covered).isEqualTo(SIZE);
        assertThat(extents.get(0).get("zero").asBoolean()).isTrue();
        assertThat(extents.get(1).get("start").asLong()).isEqualTo(4096);
        assertThat(extents.get(1).get("zero").asBoolean()).isFalse();
        JsonNode page = JSON.readTree(
                send(request("/vdis/disk1/extents?context=zero&limit=1")).body());
        assertThat(page).hasSize(1);
    }

    @Test
    void dirtyExtentsAgainstABaseAreTheChangedBlocks() throws Exception {
        byte[] changed = disk.clone();
        changed[SIZE / 2] = 9;
        store.put("disk2", changed);
        JsonNode extents = JSON.readTree(
                send(request("/vdis/disk2/extents?context=dirty&base=disk1")).body());
        List<Long> dirtyStarts = new ArrayList<>();
        for (JsonNode extent : extents) {
            if (extent.get("dirty").asBoolean()) {
                dirtyStarts.add(extent.get("start").asLong());
                assertThat(extent.get("length").asLong()).isEqualTo(MemoryDiskStore.BLOCK);
            }
        }
        assertThat(dirtyStarts).containsExactly((long) SIZE / 2);
    }

    @Test
    void metricsCountBytesAndResponses() throws Exception {
        send(request("/vdis/disk1"));
        String metrics = new String(send(request("/metrics")).body(), StandardCharsets.UTF_8);
        assertThat(metrics)
                .contains("thinsr_http_bytes_out_total")
                .contains("thinsr_http_responses_total{status=\"200\"}");
    }

    @Test
    void oversizeHeadersAreRefused() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis").header("X-Big", "x".repeat(20_000)));
        assertThat(response.statusCode()).isEqualTo(431);
    }

    @Test
    void templatesCannotBeImportedInto() throws Exception {
        store.putTemplate("tmpl", new byte[4096]);
        HttpResponse<byte[]> response =
                send(request("/vdis/tmpl").PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[4096])));
        assertThat(response.statusCode()).isEqualTo(409);
        assertThat(JSON.readTree(response.body()).get("code").asText()).isEqualTo("VDI_IS_TEMPLATE");
    }

    @Test
    void tokensAreRequiredWhenATokenFileIsGiven(@TempDir Path dir) throws Exception {
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, "# tokens\nsecret-token-1\nadmin:password123\n");
        try (ThinsrServer secured = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0).withTokenFile(tokens),
                store,
                Formats.raw(),
                line -> {})) {
            URI uri = secured.uri().resolve("/vdis");
            assertThat(send(HttpRequest.newBuilder(uri)).statusCode()).isEqualTo(401);
            assertThat(send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer wrong-token"))
                            .statusCode())
                    .isEqualTo(401);
            assertThat(send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer secret-token-1"))
                            .statusCode())
                    .isEqualTo(200);
            String basic =
                    java.util.Base64.getEncoder().encodeToString("admin:password123".getBytes(StandardCharsets.UTF_8));
            assertThat(send(HttpRequest.newBuilder(uri).header("Authorization", "Basic " + basic))
                            .statusCode())
                    .isEqualTo(200);
        }
    }

    @Test
    void createMakesAnEmptyVdi() throws Exception {
        HttpResponse<byte[]> response = send(request("/vdis")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name_label\":\"new\",\"virtual_size\":8192}")));
        assertThat(response.statusCode()).isEqualTo(201);
        assertThat(store.content("new")).hasSize(8192);
    }
}
