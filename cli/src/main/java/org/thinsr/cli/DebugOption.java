package org.thinsr.cli;

import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code --debug}, accepted by every command: stack traces on failure (see {@link ErrorReporter}). */
final class DebugOption {
    @Option(
            names = "--debug",
            scope = ScopeType.INHERIT,
            description = "On failure, print the stack trace after the one-line error.")
    boolean debug;
}
