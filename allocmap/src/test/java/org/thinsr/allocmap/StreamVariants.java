package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The streaming-parser checks every parser gets: whole input, split at every point, one byte at a
 * time, truncated at every point, with trailing garbage.
 */
final class StreamVariants {
    private StreamVariants() {}

    /** A parser under test. */
    @FunctionalInterface
    interface Parser<T> {
        T parse(InputStream in) throws IOException;
    }

    /** Returns at most {@code chunk} bytes per read, then the rest after {@code split}. */
    static final class ChunkedInputStream extends InputStream {
        private final byte[] bytes;
        private final int split;
        private final int chunk;
        private int position;

        ChunkedInputStream(byte[] bytes, int split, int chunk) {
            this.bytes = bytes;
            this.split = split;
            this.chunk = chunk;
        }

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
            int end = position < split ? split : bytes.length;
            int count = Math.min(Math.min(length, chunk), end - position);
            System.arraycopy(bytes, position, buffer, offset, count);
            position += count;
            return count;
        }
    }

    /**
     * Parses {@code input} whole, split at every point and one byte at a time, and checks each
     * result equals the whole parse, which is returned.
     */
    static <T> T parsesAlike(byte[] input, Parser<T> parser) throws IOException {
        T whole = parser.parse(new ByteArrayInputStream(input));
        for (int split = 0; split <= input.length; split++) {
            assertThat(parser.parse(new ChunkedInputStream(input, split, Integer.MAX_VALUE)))
                    .as("split at %s", split)
                    .isEqualTo(whole);
        }
        assertThat(parser.parse(new ChunkedInputStream(input, 0, 1)))
                .as("one byte at a time")
                .isEqualTo(whole);
        return whole;
    }

    /**
     * Every prefix shorter than {@code completeLength} fails with {@code failure}, and so does the
     * input followed by each garbage suffix.
     */
    static <T> void truncatedAndTrailingGarbageFail(
            byte[] input, int completeLength, Parser<T> parser, Class<? extends Exception> failure, String... garbage) {
        for (int length = 0; length < completeLength; length++) {
            byte[] prefix = Arrays.copyOf(input, length);
            int shown = length;
            assertThatThrownBy(() -> parser.parse(new ByteArrayInputStream(prefix)))
                    .as("truncated to %s bytes", shown)
                    .isInstanceOf(failure);
        }
        for (String suffix : garbage) {
            byte[] tail = suffix.getBytes(StandardCharsets.UTF_8);
            byte[] withGarbage = Arrays.copyOf(input, input.length + tail.length);
            System.arraycopy(tail, 0, withGarbage, input.length, tail.length);
            assertThatThrownBy(() -> parser.parse(new ByteArrayInputStream(withGarbage)))
                    .as("trailing %s", suffix)
                    .isInstanceOf(failure);
        }
    }
}
