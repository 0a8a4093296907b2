package org.thinsr.qmpclient;

import java.io.IOException;
import java.util.Objects;

/**
 * qemu answered a QMP command with {@code {"error": {"class": ..., "desc": ...}}}. The connection
 * stays usable.
 */
public final class QmpException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String command;
    private final String errorClass;
    private final String description;

    QmpException(String command, String errorClass, String description) {
        super("QMP command " + command + " failed: " + errorClass + ": " + description);
        this.command = Objects.requireNonNull(command, "command");
        this.errorClass = Objects.requireNonNull(errorClass, "errorClass");
        this.description = Objects.requireNonNull(description, "description");
    }

    public String command() {
        return command;
    }

    /** qemu's {@code error.class}: {@code GenericError}, {@code CommandNotFound}, {@code DeviceNotFound}, ... */
    public String errorClass() {
        return errorClass;
    }

    /** qemu's {@code error.desc}, a human-readable message. */
    public String description() {
        return description;
    }
}
