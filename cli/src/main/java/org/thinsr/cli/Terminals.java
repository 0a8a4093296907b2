package org.thinsr.cli;

import java.io.Console;

/** Whether progress bars may be drawn: only on an interactive terminal. */
final class Terminals {
    private Terminals() {}

    /** True when the process runs on a terminal (JDK 22+: {@link Console#isTerminal()}). */
    @SuppressWarnings("SystemConsoleNull") // its Javadoc still allows null; isTerminal() is the real test
    static boolean stderrIsTerminal() {
        Console console = System.console();
        return console != null && console.isTerminal();
    }
}
