package org.thinsr.qmpclient;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** Blocking whole-buffer reads and writes on channels, with the peer named in every error. */
final class Wire {
    private Wire() {}

    /**
     * Fills {@code buffer} from {@code channel}.
     *
     * @throws EOFException naming {@code what} and how many bytes were missing when the peer closes
     */
    static void readFully(ReadableByteChannel channel, ByteBuffer buffer, String what) throws IOException {
        int wanted = buffer.remaining();
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer);
            if (n < 0) {
                throw new EOFException("peer closed the connection while sending " + what + ": got "
                        + (wanted - buffer.remaining()) + " of " + wanted + " bytes");
            }
        }
    }

    static void writeFully(WritableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
