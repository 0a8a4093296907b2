package org.thinsr.allocmap;

import java.io.IOException;

/**
 * Input read from outside (XML, JSON, an image, a stream) is malformed. The message always names
 * what was wrong, where (a line, an offset, a field), the actual value and the expected one, for
 * example {@code "thin_dump line 12: attribute data_block: actual -3, expected a number in [0,
 * 2^63)"}.
 */
public class CorruptInputException extends IOException {
    private static final long serialVersionUID = 1L;

    public CorruptInputException(String message) {
        super(message);
    }

    public CorruptInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code "<where>: <what>: actual <actual>, expected <expected>"}. */
    public static CorruptInputException of(String where, String what, Object actual, Object expected) {
        return new CorruptInputException(where + ": " + what + ": actual " + actual + ", expected " + expected);
    }

    public ErrorCode code() {
        return ErrorCode.CORRUPT_INPUT;
    }
}
