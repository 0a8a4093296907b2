package org.thinsr.allocmap;

import java.util.List;
import java.util.Objects;

/**
 * The one unchecked exception for domain failures: a stable {@link ErrorCode}, a one-line message
 * for people, and parameters for machines (SMAPIv3 {@code params}).
 */
public class ThinsrException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final transient List<String> params;

    public ThinsrException(ErrorCode code, String message, String... params) {
        this(code, message, null, params);
    }

    public ThinsrException(ErrorCode code, String message, Throwable cause, String... params) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
        this.params = List.of(params);
    }

    public ErrorCode code() {
        return code;
    }

    public List<String> params() {
        return params;
    }
}
