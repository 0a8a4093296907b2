package org.thinsr.vhdstream;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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

    /**
     * A file read by position. Its data can also be read in place, through a read-only mapping of
     * the file ({@link #mapped}): no copy into a buffer of ours, and none in a {@link
     * org.thinsr.allocmap.BlockSink#writeRetained} sink that keeps the slice until it writes it.
     */
    final class Seekable implements VhdInput {
        private final FileChannel file;
        private final long length;
        private MemorySegment mapping;
        private boolean unmappable;

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

        /**
         * The {@code length} bytes at {@code offset} as a read-only slice of a mapping of the file,
         * or null when the file cannot be mapped (the caller then uses {@link #read}). The mapping
         * is released by the garbage collector once no slice of it is reachable, so a slice handed
         * to a sink that writes later stays valid whatever happens to this input.
         */
        ByteBuffer mapped(long offset, int length, String field) throws IOException {
            if (offset < 0 || offset > this.length - length) {
                throw CorruptImageException.at(
                        offset, field, "past the end of the file at " + this.length, length + " bytes");
            }
            if (mapping == null && !unmappable) {
                try {
                    mapping = file.map(FileChannel.MapMode.READ_ONLY, 0, this.length, Arena.ofAuto());
                } catch (IOException | UnsupportedOperationException e) {
                    unmappable = true; // a file system without mmap: reads instead
                }
            }
            return mapping == null ? null : mapping.asSlice(offset, length).asByteBuffer();
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
