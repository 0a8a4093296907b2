package org.thinsr.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The one place where failures become what a person sees: a single line {@code thinsr: CODE:
 * message} on stderr and the exit status of {@link ErrorCode#exitStatus()}. Stack traces only with
 * {@code --debug}.
 */
final class ErrorReporter implements IExecutionExceptionHandler, IParameterExceptionHandler {

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine commandLine = ex.getCommandLine();
        PrintWriter err = commandLine.getErr();
        err.println("thinsr: " + ErrorCode.USAGE.name() + ": " + oneLine(ex.getMessage()));
        err.println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return ErrorCode.USAGE.exitStatus();
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine commandLine, ParseResult parseResult) {
        PrintWriter err = commandLine.getErr();
        Failure failure = classify(ex);
        err.println("thinsr: " + failure.code().name() + ": " + oneLine(failure.message()));
        if (debug(parseResult)) {
            StringWriter trace = new StringWriter();
            ex.printStackTrace(new PrintWriter(trace));
            err.print(trace);
        }
        err.flush();
        return failure.code().exitStatus();
    }

    /** What went wrong, as a code and a message; never throws. */
    static Failure classify(Throwable ex) {
        Throwable cause = ex;
        if (cause instanceof UncheckedIOException unchecked && unchecked.getCause() != null) {
            cause = unchecked.getCause();
        }
        return switch (cause) {
            case ThinsrException thinsr -> new Failure(thinsr.code(), thinsr.getMessage());
            case CorruptInputException corrupt -> new Failure(corrupt.code(), corrupt.getMessage());
            case NoSuchFileException missing -> new Failure(ErrorCode.NOT_FOUND, "no such file: " + missing.getFile());
            case AccessDeniedException denied ->
                new Failure(ErrorCode.FORBIDDEN, "permission denied: " + denied.getFile());
            case IOException io -> new Failure(ErrorCode.IO_ERROR, describe(io));
            case IllegalArgumentException illegal -> new Failure(ErrorCode.INVALID_ARGUMENT, describe(illegal));
            case OutOfMemoryError oom -> new Failure(ErrorCode.INTERNAL_ERROR, "out of memory: " + oom.getMessage());
            default -> new Failure(ErrorCode.INTERNAL_ERROR, describe(cause) + " (run with --debug for a stack trace)");
        };
    }

    private static String describe(Throwable ex) {
        String message = ex.getMessage();
        return message == null || message.isBlank() ? ex.getClass().getSimpleName() : message;
    }

    private static String oneLine(String message) {
        if (message == null) {
            return "";
        }
        return message.strip().replace("\r", " ").replace('\n', ' ');
    }

    private static boolean debug(ParseResult parseResult) {
        ParseResult result = parseResult;
        while (result != null) {
            if (result.hasMatchedOption("--debug")) {
                return true;
            }
            result = result.subcommand();
        }
        return false;
    }

    record Failure(ErrorCode code, String message) {}
}
