package org.thinsr.allocmap;

/**
 * XML read from outside ({@code thin_dump}, {@code thin_delta}) is malformed, hostile (a DOCTYPE, an
 * entity, an unknown element) or holds a value out of range. Its message names the source, the
 * line, what was wrong, the actual value and the expected one.
 */
public class InvalidXmlException extends CorruptInputException {
    private static final long serialVersionUID = 1L;

    public InvalidXmlException(String message) {
        super(message);
    }

    /** {@code "<where>: <what>: actual <actual>, expected <expected>"}. */
    public static InvalidXmlException of(String where, String what, Object actual, Object expected) {
        return new InvalidXmlException(where + ": " + what + ": actual " + actual + ", expected " + expected);
    }

    @Override
    public ErrorCode code() {
        return ErrorCode.INVALID_XML;
    }
}
