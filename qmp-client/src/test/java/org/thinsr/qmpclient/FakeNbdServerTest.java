package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.thinsr.qmpclient.NbdBytes.*;
import static org.thinsr.qmpclient.NbdProtocol.*;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.CorruptInputException;

/**
 * A tiny in-process NBD server on a real unix socket that misbehaves after the handshake: the
 * client must report it through the same socket path real servers use, never hang or succeed.
 */
class FakeNbdServerTest {
    @TempDir
    Path directory;

    /** Serves a handshake, reads one 28-byte request, then sends {@code reply} and closes. */
    CompletableFuture<Void> serve(Path socket, byte[] reply) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        return CompletableFuture.runAsync(() -> {
            try (server;
                    SocketChannel client = server.accept()) {
                Wire.writeFully(client, ByteBuffer.wrap(greeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)));
                Wire.readFully(client, ByteBuffer.allocate(4), "client flags");
                Wire.readFully(client, ByteBuffer.allocate(16), "structured reply option");
                Wire.writeFully(client, ByteBuffer.wrap(optionReply(OPT_STRUCTURED_REPLY, REP_ACK, new byte[0])));
                ByteBuffer header = ByteBuffer.allocate(16);
                Wire.readFully(client, header, "go option");
                Wire.readFully(client, ByteBuffer.allocate(header.getInt(12)), "go data");
                Wire.writeFully(
                        client,
                        ByteBuffer.wrap(concat(
                                optionReply(OPT_GO, REP_INFO, infoExport(1 << 20, TF_HAS_FLAGS | TF_READ_ONLY)),
                                optionReply(OPT_GO, REP_ACK, new byte[0]))));
                Wire.readFully(client, ByteBuffer.allocate(28), "request");
                Wire.writeFully(client, ByteBuffer.wrap(reply));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    NbdConnection connect(Path socket) throws IOException {
        return NbdConnection.connect(
                NbdUri.unix(socket, ""), List.of(), new NbdConnection.Options(8, Duration.ofSeconds(20)));
    }

    @Test
    void serverClosingMidReplyOnARealSocketFailsTheReadQuickly() throws Exception {
        Path socket = directory.resolve("mid.sock");
        CompletableFuture<Void> server = serve(
                socket, concat(chunkHeader(REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, 1, 8 + 65536), u64(0), new byte[1000]));
        try (NbdConnection connection = connect(socket)) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> connection.read(0, ByteBuffer.allocate(65536)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("closed the connection");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        }
        server.get();
    }

    @Test
    void oversizeLengthOnARealSocketIsRejectedWithoutAllocatingIt() throws Exception {
        Path socket = directory.resolve("big.sock");
        CompletableFuture<Void> server =
                serve(socket, concat(chunkHeader(REPLY_FLAG_DONE, CHUNK_ERROR, 1, 0xffffff00L), new byte[64]));
        try (NbdConnection connection = connect(socket)) {
            assertThatThrownBy(() -> connection.read(0, ByteBuffer.allocate(4096)))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("error chunk length: actual 4294967040");
        }
        server.get();
    }
}
