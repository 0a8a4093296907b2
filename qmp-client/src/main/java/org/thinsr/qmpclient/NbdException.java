package org.thinsr.qmpclient;

import java.io.IOException;

/**
 * The NBD server refused a request or an option: an error reply carrying an NBD errno
 * ({@code EIO = 5}, {@code EINVAL = 22}, ...) for a transmission request, or an {@code
 * NBD_REP_ERR_*} reply type during negotiation. The connection stays usable after a transmission
 * error; protocol violations are {@link org.thinsr.allocmap.CorruptInputException}s instead.
 */
public final class NbdException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    NbdException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    /** The NBD errno of a transmission error, or the {@code NBD_REP_ERR_*} type of an option error. */
    public int errno() {
        return errno;
    }

    /** The symbolic name of {@link #errno()} for transmission errors ({@code EIO}, ...). */
    public String errnoName() {
        return errnoName(errno);
    }

    static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> "EPERM";
            case 5 -> "EIO";
            case 12 -> "ENOMEM";
            case 22 -> "EINVAL";
            case 28 -> "ENOSPC";
            case 75 -> "EOVERFLOW";
            case 95 -> "ENOTSUP";
            case 108 -> "ESHUTDOWN";
            default -> "errno " + errno;
        };
    }
}
