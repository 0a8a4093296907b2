package org.thinsr.vhdstream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/** Input streams that deliver their bytes in pieces, to test parsers under every chunking. */
final class RawTestStreams {
    private RawTestStreams() {}

    /** Delivers {@code bytes} with every read returning at most {@code piece} bytes. */
    static InputStream inPieces(byte[] bytes, int piece) {
        return new InputStream() {
            private int position;

            @Override
            public int read() {
                return position < bytes.length ? bytes[position++] & 0xff : -1;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) {
                if (length == 0) {
                    return 0;
                }
                if (position >= bytes.length) {
                    return -1;
                }
                int count = Math.min(Math.min(length, piece), bytes.length - position);
                System.arraycopy(bytes, position, buffer, offset, count);
                position += count;
                return count;
            }
        };
    }

    /** Delivers {@code bytes[0, split)} in one read and the rest in the following ones. */
    static InputStream splitAt(byte[] bytes, int split) {
        return new InputStream() {
            private int position;

            @Override
            public int read() {
                return position < bytes.length ? bytes[position++] & 0xff : -1;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) {
                if (length == 0) {
                    return 0;
                }
                if (position >= bytes.length) {
                    return -1;
                }
                int boundary = position < split ? split : bytes.length;
                int count = Math.min(length, boundary - position);
                System.arraycopy(bytes, position, buffer, offset, count);
                position += count;
                return count;
            }
        };
    }

    static InputStream whole(byte[] bytes) {
        return new ByteArrayInputStream(bytes);
    }

    interface Writing {
        void writeTo(ByteArrayOutputStream out) throws IOException;
    }

    static byte[] bytesOf(Writing writing) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        writing.writeTo(out);
        return out.toByteArray();
    }
}
