package org.thinsr.httpexport;

import java.util.Optional;

/**
 * One satisfiable byte range {@code [start, end)} of a representation of {@code length} bytes, from
 * a {@code Range: bytes=...} header (RFC 9110 §14.1.2). Only single ranges are served; a list of
 * ranges is answered with the whole body (which the RFC allows).
 */
record ByteRange(long start, long end, long length) {
    ByteRange {
        if (start < 0 || end < start || end > length) {
            throw new IllegalArgumentException("range [" + start + ", " + end + ") outside [0, " + length + "]");
        }
    }

    /** The {@code Content-Range} value: {@code bytes START-LAST/LENGTH}. */
    String contentRange() {
        return "bytes " + start + "-" + (end - 1) + "/" + length;
    }

    /** Thrown for a syntactically valid range that lies wholly past the end: 416. */
    static final class UnsatisfiableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnsatisfiableException(String message) {
            super(message);
        }
    }

    /**
     * Parses a {@code Range} header against a body of {@code length} bytes. Empty when there is no
     * header, it is not a {@code bytes} range, it is malformed, or it lists several ranges: the
     * caller sends the whole body.
     */
    static Optional<ByteRange> parse(String header, long length) throws UnsatisfiableException {
        if (header == null) {
            return Optional.empty();
        }
        String value = header.strip();
        if (!value.regionMatches(true, 0, "bytes=", 0, 6) || value.indexOf(',') >= 0 || value.length() > 64) {
            return Optional.empty();
        }
        String spec = value.substring(6).strip();
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return Optional.empty();
        }
        String first = spec.substring(0, dash).strip();
        String last = spec.substring(dash + 1).strip();
        Long firstValue = parseNumber(first);
        Long lastValue = parseNumber(last);
        if (first.isEmpty()) {
            if (lastValue == null || lastValue == 0) {
                if (lastValue != null) {
                    throw new UnsatisfiableException("suffix range of 0 bytes");
                }
                return Optional.empty();
            }
            long suffix = Math.min(lastValue, length);
            if (length == 0) {
                throw new UnsatisfiableException("range " + value + " of an empty body");
            }
            return Optional.of(new ByteRange(length - suffix, length, length));
        }
        if (firstValue == null || (!last.isEmpty() && (lastValue == null || lastValue < firstValue))) {
            return Optional.empty();
        }
        if (firstValue >= length) {
            throw new UnsatisfiableException(
                    "range starts at " + firstValue + " but the body has " + length + " bytes");
        }
        long end = last.isEmpty() ? length : Math.min(length, lastValue + 1);
        return Optional.of(new ByteRange(firstValue, end, length));
    }

    private static Long parseNumber(String text) {
        if (text.isEmpty() || text.length() > 19) {
            return null;
        }
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < '0' || text.charAt(i) > '9') {
                return null;
            }
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
