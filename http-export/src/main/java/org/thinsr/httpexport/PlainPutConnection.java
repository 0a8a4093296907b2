package org.thinsr.httpexport;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.thinsr.allocmap.CorruptInputException;

/**
 * One kept-alive HTTP/1.1 connection to a plain {@code http://} server for ranged PUTs of disk
 * data: the request head and the caller's (direct) buffer go out in one gathering write, with no
 * copy into byte arrays and no per-request machinery; the answer's status, headers and a bounded
 * body are read back. {@link java.net.http.HttpClient} moved the same bytes through 16 KiB heap
 * buffers and a selector thread and used more CPU than the copy it carried. One thread at a time;
 * a connection that failed or was told {@code Connection: close} is reopened by the next request.
 */
final class PlainPutConnection implements Closeable {
    static final int MAX_HEAD_BYTES = 64 << 10;
    static final int MAX_BODY_BYTES = 64 << 10;

    /** What the server answered: the status, its headers (names in lower case) and its (bounded) body. */
    static final class Answer {
        private final int status;
        private final Map<String, String> headers;
        private final byte[] body;

        Answer(int status, byte[] body) {
            this(status, Map.of(), body);
        }

        Answer(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = Map.copyOf(headers);
            this.body = body.clone();
        }

        int status() {
            return status;
        }

        Optional<String> header(String name) {
            return Optional.ofNullable(headers.get(name.toLowerCase(Locale.ROOT)));
        }

        byte[] body() {
            return body.clone();
        }
    }

    private final URI origin;
    private final Optional<String> token;
    private final Duration timeout;
    private SocketChannel channel;
    private InputStream in;

    PlainPutConnection(URI origin, Optional<String> token, Duration timeout) {
        if (!"http".equalsIgnoreCase(origin.getScheme())) {
            throw new IllegalArgumentException("plain PUTs are for http:// only, not " + origin);
        }
        this.origin = origin;
        this.token = token;
        this.timeout = timeout;
    }

    /** Sends {@code PUT uri} with {@code body} (all of its remaining bytes) and returns the answer. */
    Answer put(URI uri, String contentRange, ByteBuffer body) throws IOException {
        String head = head(
                "PUT",
                uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()),
                "Content-Range: " + contentRange,
                "Content-Length: " + body.remaining());
        ByteBuffer[] parts = {ByteBuffer.wrap(head.getBytes(StandardCharsets.ISO_8859_1)), body};
        if (channel == null) {
            open(true);
        }
        try {
            while (parts[0].hasRemaining() || parts[1].hasRemaining()) {
                channel.write(parts);
            }
            return readAnswer();
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * What {@link #upgrade} got: on {@code 101 Switching Protocols} the connection, handed over to
     * the caller (it reads and writes the new protocol on it and closes it); otherwise null.
     */
    record Upgrade(Answer answer, SocketChannel channel) {}

    /**
     * Sends {@code POST uri} asking to switch to {@code protocol} ({@code Upgrade}, RFC 9110 §7.8)
     * on a fresh connection whose answer head is read byte by byte, so that nothing of the new
     * protocol after it is consumed. Any answer but 101 closes the connection.
     */
    Upgrade upgrade(URI uri, String protocol) throws IOException {
        String head =
                head("POST", uri.getRawPath(), "Connection: Upgrade", "Upgrade: " + protocol, "Content-Length: 0");
        close();
        open(false);
        try {
            ByteBuffer request = ByteBuffer.wrap(head.getBytes(StandardCharsets.ISO_8859_1));
            while (request.hasRemaining()) {
                channel.write(request);
            }
            Answer answer = readAnswer();
            if (answer.status() != 101) {
                close();
                return new Upgrade(answer, null);
            }
            SocketChannel upgraded = channel;
            channel.socket().setSoTimeout(0); // the new protocol keeps its own time limits
            channel = null;
            in = null;
            return new Upgrade(answer, upgraded);
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** A request head: the request line, Host, {@code headers}, the token's Authorization, the blank line. */
    private String head(String method, String target, String... headers) {
        StringBuilder head = new StringBuilder(256)
                .append(method)
                .append(' ')
                .append(target)
                .append(" HTTP/1.1\r\nHost: ")
                .append(origin.getHost())
                .append(':')
                .append(port())
                .append("\r\n");
        for (String header : headers) {
            head.append(header).append("\r\n");
        }
        token.ifPresent(
                value -> head.append("Authorization: Bearer ").append(value).append("\r\n"));
        return head.append("\r\n").toString();
    }

    private int port() {
        return origin.getPort() < 0 ? 80 : origin.getPort();
    }

    /** {@code buffered}: answers read through a buffer (PUTs); unbuffered for an upgrade's head. */
    private void open(boolean buffered) throws IOException {
        channel = SocketChannel.open();
        try {
            channel.socket().connect(new InetSocketAddress(origin.getHost(), port()), (int) timeout.toMillis());
            channel.socket().setSoTimeout((int) timeout.toMillis());
            channel.socket().setTcpNoDelay(true);
            InputStream raw = channel.socket().getInputStream();
            in = buffered ? new BufferedInputStream(raw, 8192) : raw;
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private Answer readAnswer() throws IOException {
        String statusLine = readLine();
        String[] words = statusLine.split(" ", 3);
        if (words.length < 2 || !words[0].startsWith("HTTP/1.")) {
            throw new CorruptInputException(
                    origin + ": status line: actual '" + statusLine + "', expected 'HTTP/1.x CODE'");
        }
        int status;
        try {
            status = Integer.parseInt(words[1]);
        } catch (NumberFormatException e) {
            throw new CorruptInputException(origin + ": status code: actual '" + words[1] + "', expected a number");
        }
        long length = -1;
        boolean chunked = false;
        Map<String, String> headers = new HashMap<>();
        boolean closeAfter = words[0].equals("HTTP/1.0");
        int headBytes = statusLine.length();
        for (String line = readLine(); !line.isEmpty(); line = readLine()) {
            headBytes += line.length() + 2;
            if (headBytes > MAX_HEAD_BYTES) {
                throw new CorruptInputException(origin + ": answer head longer than " + MAX_HEAD_BYTES + " bytes");
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String name = line.substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).strip();
            headers.put(name, value);
            switch (name) {
                case "content-length" -> {
                    try {
                        length = Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        throw new CorruptInputException(
                                origin + ": Content-Length: actual '" + value + "', expected a number");
                    }
                }
                case "transfer-encoding" ->
                    chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                case "connection" ->
                    closeAfter |= value.toLowerCase(Locale.ROOT).contains("close");
                default -> {
                    // not needed
                }
            }
        }
        if (status == 101) {
            return new Answer(status, headers, new byte[0]); // what follows is the new protocol's
        }
        byte[] body;
        if (chunked) {
            body = readChunked();
        } else if (length >= 0) {
            if (length > MAX_BODY_BYTES) {
                throw new CorruptInputException(
                        origin + ": answer body: actual " + length + " bytes, expected at most " + MAX_BODY_BYTES);
            }
            body = in.readNBytes((int) length);
            if (body.length < length) {
                throw new EOFException(
                        origin + ": answer body ended after " + body.length + " of " + length + " bytes");
            }
        } else {
            body = in.readNBytes(MAX_BODY_BYTES); // delimited by the end of the connection
            closeAfter = true;
        }
        if (closeAfter) {
            close();
        }
        return new Answer(status, headers, body);
    }

    private byte[] readChunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine();
            int semicolon = sizeLine.indexOf(';');
            String hex = (semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).strip();
            long size;
            try {
                size = Long.parseLong(hex, 16);
            } catch (NumberFormatException e) {
                throw new CorruptInputException(
                        origin + ": chunk size: actual '" + sizeLine + "', expected hex digits");
            }
            if (size < 0 || body.size() + size > MAX_BODY_BYTES) {
                throw new CorruptInputException(
                        origin + ": chunked answer body longer than " + MAX_BODY_BYTES + " bytes");
            }
            if (size == 0) {
                while (!readLine().isEmpty()) {
                    // trailers
                }
                return body.toByteArray();
            }
            byte[] data = in.readNBytes((int) size);
            if (data.length < size) {
                throw new EOFException(origin + ": chunked answer ended inside a chunk");
            }
            body.writeBytes(data);
            readLine();
        }
    }

    /** A CRLF- (or LF-) terminated line of at most {@link #MAX_HEAD_BYTES} bytes, without the end. */
    private String readLine() throws IOException {
        StringBuilder line = new StringBuilder();
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException(origin + ": connection closed inside the answer head");
            }
            if (b == '\n') {
                int end = line.length();
                return end > 0 && line.charAt(end - 1) == '\r' ? line.substring(0, end - 1) : line.toString();
            }
            if (line.length() >= MAX_HEAD_BYTES) {
                throw new CorruptInputException(origin + ": answer line longer than " + MAX_HEAD_BYTES + " bytes");
            }
            line.append((char) b);
        }
    }

    @Override
    public void close() {
        SocketChannel open = channel;
        channel = null;
        in = null;
        if (open != null) {
            try {
                open.close();
            } catch (IOException ignored) {
                // closing a connection we give up on
            }
        }
    }
}
