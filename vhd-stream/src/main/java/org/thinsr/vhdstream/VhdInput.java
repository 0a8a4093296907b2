package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;

/**
 * Where a VHD is read from: a seekable file (any offset, any order) or a forward-only stream of
 * known length (each read must start at or after the end of the previous one; skipped bytes are
 * read and dropped). A read that runs past the end is a {@link CorruptImageException} naming the
 * field it was reading.
 */
sealed interface VhdInput permits VhdInput.Seekable, VhdInput.Forward {
    /** Total length of the image in bytes. */
    long length();

    /** Whether reads may go backwards. */
    boolean seekable();

    /** Reads exactly {@code buffer.remaining()} bytes at {@code offset}. */
    void read(long offset, ByteBuffer buffer, String field) throws IOException;

    /** A file read by position. */
    final class Seekable implements VhdInput {
        private final FileChannel file;
        private final long length;

        Seekable(FileChannel file) throws IOException {
            this.file = file;
            this.length = file.size();
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public boolean seekable() {
            return true;
        }

        @Override
        public void read(long offset, ByteBuffer buffer, String field) throws IOException {
            long position = offset;
            while (buffer.hasRemaining()) {
                int n = file.read(buffer, position);
                if (n < 0) {
                    throw CorruptImageException.at(position, field, "end of file", buffer.remaining() + " more bytes");
                }
                position += n;
            }
        }
    }

    /** A stream read forward only, for example an HTTP request body of known length. */
    final class Forward implements VhdInput {
        /** Consecutive zero-byte reads after which the channel counts as stalled. */
        private static final int MAX_EMPTY_READS = 10_000;

        private final ReadableByteChannel channel;
        private final long length;
        private ByteBuffer scratch;
        private long position;

        Forward(ReadableByteChannel channel, long length) {
            this.channel = channel;
            this.length = length;
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public boolean seekable() {
            return false;
        }

        long position() {
            return position;
        }

        @Override
        public void read(long offset, ByteBuffer buffer, String field) throws IOException {
            if (offset < position) {
                throw new IllegalStateException("forward-only read went back from " + position + " to " + offset);
            }
            if (offset + buffer.remaining() > length) {
                throw CorruptImageException.at(
                        offset,
                        field,
                        "past the stream length " + length,
                        "[" + offset + ", " + (offset + buffer.remaining()) + ")");
            }
            while (position < offset) {
                if (scratch == null) {
                    scratch = ByteBuffer.allocateDirect(256 << 10);
                }
                scratch.clear().limit((int) Math.min(scratch.capacity(), offset - position));
                fill(scratch, field);
            }
            fill(buffer, field);
        }

        private void fill(ByteBuffer buffer, String field) throws IOException {
            int empty = 0;
            while (buffer.hasRemaining()) {
                int n = channel.read(buffer);
                if (n < 0) {
                    throw CorruptImageException.at(
                            position, field, "end of stream (truncated)", buffer.remaining() + " more bytes");
                }
                if (n == 0 && ++empty > MAX_EMPTY_READS) {
                    throw new IOException("stream at offset " + position + " made no progress");
                }
                if (n > 0) {
                    empty = 0;
                }
                position += n;
            }
        }

        /** Fails when the stream holds more bytes than its declared length. */
        void expectEnd() throws IOException {
            ByteBuffer one = ByteBuffer.allocate(1);
            int n;
            int empty = 0;
            do {
                n = channel.read(one);
            } while (n == 0 && ++empty < MAX_EMPTY_READS);
            if (n > 0) {
                throw CorruptImageException.at(
                        length, "end of stream", "more data", "end at the declared length " + length);
            }
        }
    }
}
