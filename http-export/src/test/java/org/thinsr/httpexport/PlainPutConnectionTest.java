package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/** {@link PlainPutConnection} against a scripted HTTP peer: keep-alive, answer framings, bounds. */
class PlainPutConnectionTest {
    private ServerSocket listener;
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<Integer> connections = new CopyOnWriteArrayList<>();

    /** Serves each connection with the next answers, one per request, recording what it got. */
    private URI serve(List<String> answers) throws IOException {
        listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
        List<String> left = new ArrayList<>(answers);
        Thread.ofVirtual().start(() -> {
            try {
                while (!left.isEmpty()) {
                    try (Socket socket = listener.accept()) {
                        connections.add(socket.getPort());
                        InputStream in = socket.getInputStream();
                        OutputStream out = socket.getOutputStream();
                        while (!left.isEmpty()) {
                            String head = readHead(in);
                            if (head == null) {
                                break;
                            }
                            int length = Integer.parseInt(head.replaceAll("(?s).*Content-Length: (\\d+).*", "$1"));
                            byte[] body = in.readNBytes(length);
                            requests.add(head + new String(body, StandardCharsets.ISO_8859_1));
                            String answer = left.removeFirst();
                            out.write(answer.getBytes(StandardCharsets.ISO_8859_1));
                            out.flush();
                            if (answer.contains("Connection: close")) {
                                break;
                            }
                        }
                    }
                }
            } catch (IOException e) {
                // the test ended
            }
        });
        return URI.create("http://127.0.0.1:" + listener.getLocalPort() + "/");
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            byte[] bytes = head.toByteArray();
            int n = bytes.length;
            if (n >= 4
                    && bytes[n - 4] == '\r'
                    && bytes[n - 3] == '\n'
                    && bytes[n - 2] == '\r'
                    && bytes[n - 1] == '\n') {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
        }
    }

    @AfterEach
    void close() throws IOException {
        listener.close();
    }

    @Test
    void putsReuseOneConnectionAndCarryRangeLengthTokenAndBody() throws Exception {
        URI base = serve(List.of(
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        try (PlainPutConnection connection =
                new PlainPutConnection(base, Optional.of("secret"), Duration.ofSeconds(5))) {
            URI target = base.resolve("vdis/disk%201");
            for (int i = 0; i < 3; i++) {
                ByteBuffer body = ByteBuffer.allocateDirect(5)
                        .put("hello".getBytes(StandardCharsets.US_ASCII))
                        .flip();
                PlainPutConnection.Answer answer = connection.put(target, "bytes 10-14/*", body);
                assertThat(answer.status()).isEqualTo(i == 2 ? 204 : 200);
                assertThat(body.hasRemaining()).isFalse();
            }
        }
        assertThat(connections).as("one kept-alive connection").hasSize(1);
        assertThat(requests).hasSize(3).allSatisfy(request -> assertThat(request)
                .startsWith("PUT /vdis/disk%201 HTTP/1.1\r\n")
                .contains("Content-Range: bytes 10-14/*\r\n")
                .contains("Content-Length: 5\r\n")
                .contains("Authorization: Bearer secret\r\n")
                .endsWith("\r\n\r\nhello"));
    }

    @Test
    void upgradeHandsOverTheConnectionWithTheNewProtocolsBytesUnreadAndRefusalsKeepTheirAnswer() throws Exception {
        URI base = serve(List.of(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: nbd\r\nConnection: Upgrade\r\nNbd-Export: vol\r\n\r\n"
                        + "NBDMAGIC",
                "HTTP/1.1 501 Not Implemented\r\nContent-Length: 4\r\n\r\nnope"));
        try (PlainPutConnection connection = new PlainPutConnection(base, Optional.of("t0k"), Duration.ofSeconds(5))) {
            PlainPutConnection.Upgrade upgraded = connection.upgrade(base.resolve("vdis/a/nbd"), "nbd");
            assertThat(upgraded.answer().status()).isEqualTo(101);
            assertThat(upgraded.answer().header("NBD-EXPORT")).contains("vol");
            try (java.nio.channels.SocketChannel channel = upgraded.channel()) {
                ByteBuffer greeting = ByteBuffer.allocate(8);
                while (greeting.hasRemaining() && channel.read(greeting) >= 0) {
                    // the bytes after the head are the new protocol's, left for its reader
                }
                assertThat(new String(greeting.array(), StandardCharsets.US_ASCII))
                        .isEqualTo("NBDMAGIC");
            }
            assertThat(requests.getFirst())
                    .startsWith("POST /vdis/a/nbd HTTP/1.1\r\n")
                    .contains("Connection: Upgrade\r\n", "Upgrade: nbd\r\n", "Authorization: Bearer t0k\r\n");
            PlainPutConnection.Upgrade refused = connection.upgrade(base.resolve("vdis/b/nbd"), "nbd");
            assertThat(refused.channel()).isNull();
            assertThat(refused.answer().status()).isEqualTo(501);
            assertThat(new String(refused.answer().body(), StandardCharsets.US_ASCII))
                    .isEqualTo("nope");
        }
    }

    @Test
    void anErrorAnswerBecomesTheServersCodeAndMessage() throws Exception {
        String json = "{\"code\":\"VDI_IN_USE\",\"message\":\"being exported\"}";
        URI base = serve(List.of("HTTP/1.1 409 Conflict\r\nContent-Length: " + json.length() + "\r\n\r\n" + json));
        HttpDiskClient client = new HttpDiskClient(base, Optional.empty());
        try (var sink = client.sink("disk1", 1 << 20)) {
            assertThatThrownBy(() -> sink.write(0, ByteBuffer.wrap(new byte[512])))
                    .isInstanceOfSatisfying(
                            ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.VDI_IN_USE))
                    .hasMessageContaining("PUT ")
                    .hasMessageContaining("409 VDI_IN_USE: being exported");
        }
    }

    @Test
    void hostileAnswersAreBoundedAndNamed() throws Exception {
        URI base = serve(List.of(
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX-Long: " + "x".repeat(PlainPutConnection.MAX_HEAD_BYTES) + "\r\n\r\n",
                "SSH-2.0-OpenSSH\r\n\r\n"));
        try (PlainPutConnection connection = new PlainPutConnection(base, Optional.empty(), Duration.ofSeconds(5))) {
            URI target = base.resolve("vdis/d");
            assertThatThrownBy(() -> connection.put(target, "bytes 0-0/*", ByteBuffer.wrap(new byte[1])))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("answer body: actual 99999999999 bytes");
            assertThatThrownBy(() -> connection.put(target, "bytes 0-0/*", ByteBuffer.wrap(new byte[1])))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("longer than " + PlainPutConnection.MAX_HEAD_BYTES);
            assertThatThrownBy(() -> connection.put(target, "bytes 0-0/*", ByteBuffer.wrap(new byte[1])))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("status line: actual 'SSH-2.0-OpenSSH'");
        }
    }
}
