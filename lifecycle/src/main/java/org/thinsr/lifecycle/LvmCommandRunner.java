package org.thinsr.lifecycle;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Runs one external command of the lvm-thin backend (lvm2, dmsetup, thin-provisioning-tools,
 * losetup, qemu-nbd) from an argument list, never through a shell. Implementations enforce a
 * timeout and put the command, its exit status and its stderr into every failure.
 *
 * <p>Failures are {@link org.thinsr.allocmap.ThinsrException}s: {@code TOOL_MISSING} (naming the
 * Debian package) when the program is not installed, {@code TIMED_OUT} when it ran too long, and
 * {@code TOOL_FAILED} for a non-zero exit status or unreadable output. Thread-safe.
 */
interface LvmCommandRunner {

    /** Reads a command's stdout; may stop early, the rest is discarded. */
    @FunctionalInterface
    interface StdoutParser<T> {
        T parse(InputStream stdout) throws IOException;
    }

    /**
     * Runs {@code command} to completion and returns its stdout (at most 16 MiB, decoded as UTF-8).
     */
    String run(List<String> command);

    /** Runs {@code command}, handing its stdout to {@code parser} while it runs. */
    <T> T run(List<String> command, StdoutParser<T> parser);

    /**
     * Runs a command that leaves a daemon behind ({@code qemu-nbd --connect}): waits for the
     * command itself only; its stdout is discarded and its stderr goes through a file, so the
     * daemon holds no pipe of ours.
     */
    void runDetaching(List<String> command);
}
