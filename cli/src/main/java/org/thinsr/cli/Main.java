package org.thinsr.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/** The {@code thinsr} entry point: runs one command and exits with its status. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs {@code thinsr args} writing to the given streams; returns the exit status. For tests too. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine commandLine = commandLine();
        commandLine.setOut(out);
        commandLine.setErr(err);
        return commandLine.execute(args);
    }

    /** The full command tree with thinsr's error handling installed. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new ThinsrCommand());
        commandLine.setExecutionExceptionHandler(new ErrorReporter());
        commandLine.setParameterExceptionHandler(new ErrorReporter());
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        return commandLine;
    }
}
