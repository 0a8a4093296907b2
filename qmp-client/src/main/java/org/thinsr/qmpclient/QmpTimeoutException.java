package org.thinsr.qmpclient;

import java.io.IOException;

/** A QMP command or an awaited event did not complete in time; the connection stays usable. */
public final class QmpTimeoutException extends IOException {
    private static final long serialVersionUID = 1L;

    QmpTimeoutException(String message) {
        super(message);
    }
}
