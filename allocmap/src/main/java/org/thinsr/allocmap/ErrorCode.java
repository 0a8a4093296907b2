package org.thinsr.allocmap;

/**
 * Every domain failure of thinsr, with the one place that maps it to a CLI exit status, an HTTP
 * status and the SMAPIv3 error code.
 *
 * <p>Exit statuses: 0 success, 1 internal error, 2 usage error, 3 invalid or corrupt input, 4 not
 * found, 5 conflict with the current state, 6 unsupported, 7 an external tool or peer failed, 8 no
 * space, 9 permission or authentication, 10 cancelled or timed out.
 */
public enum ErrorCode {
    INTERNAL_ERROR(1, 500),
    USAGE(2, 400),
    INVALID_ARGUMENT(2, 400),
    CORRUPT_INPUT(3, 400),
    INVALID_XML(3, 400),
    CORRUPT_IMAGE(3, 400),
    NOT_FOUND(4, 404),
    SR_NOT_FOUND(4, 404),
    VDI_NOT_FOUND(4, 404),
    THIN_DEVICE_NOT_FOUND(4, 404),
    SR_EXISTS(5, 409),
    SR_NOT_EMPTY(5, 409),
    SR_LOCKED(5, 409),
    VDI_EXISTS(5, 409),
    VDI_IS_TEMPLATE(5, 409),
    VDI_IN_USE(5, 409),
    VDI_SHRINK_REFUSED(5, 409),
    UNSUPPORTED(6, 501),
    TOOL_MISSING(7, 500),
    TOOL_FAILED(7, 502),
    PEER_ERROR(7, 502),
    IO_ERROR(7, 500),
    NO_SPACE(8, 507),
    UNAUTHORIZED(9, 401),
    FORBIDDEN(9, 403),
    CANCELLED(10, 499),
    TIMED_OUT(10, 504);

    private final int exitStatus;
    private final int httpStatus;

    ErrorCode(int exitStatus, int httpStatus) {
        this.exitStatus = exitStatus;
        this.httpStatus = httpStatus;
    }

    /** The process exit status of a CLI command that fails with this code. */
    public int exitStatus() {
        return exitStatus;
    }

    /** The HTTP status of a request that fails with this code. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The SMAPIv3 error code (the name itself, as xapi-storage plugins report it). */
    public String smapiCode() {
        return name();
    }
}
