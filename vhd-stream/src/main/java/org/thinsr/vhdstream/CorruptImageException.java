package org.thinsr.vhdstream;

import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;

/**
 * A disk image (VHD, XVA tar, chunked stream, raw body) is malformed or damaged. The message names
 * the byte offset in the image, the field, the actual value and the expected one, for example
 * {@code "offset 1048576: footer checksum: actual 0x1a2b, expected 0x3c4d"}.
 *
 * <p>Thrown before anything is reported as success; an import that throws it leaves its target
 * incomplete and the caller must not treat it as done.
 */
public class CorruptImageException extends CorruptInputException {
    private static final long serialVersionUID = 1L;

    public CorruptImageException(String message) {
        super(message);
    }

    public CorruptImageException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * {@code "offset <offset>: <field>: actual <actual>, expected <expected>"}.
     *
     * @param offset the byte offset in the image where the bad field starts
     * @param field what was read there, e.g. {@code "footer checksum"}
     * @param actual the value found
     * @param expected the value or range that was required
     */
    public static CorruptImageException at(long offset, String field, Object actual, Object expected) {
        return new CorruptImageException(
                "offset " + offset + ": " + field + ": actual " + actual + ", expected " + expected);
    }

    @Override
    public ErrorCode code() {
        return ErrorCode.CORRUPT_IMAGE;
    }
}
