package org.thinsr.lifecycle;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A launcher of the SMAPIv3 adapter without the CLI: {@code plugin call METHOD [--json]} reads the
 * arguments from stdin and prints the result; the same argument shape as {@code thinsr plugin call}.
 */
public final class PluginMain {
    private PluginMain() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 3 || !args[0].equals("plugin") || !args[1].equals("call")) {
            System.err.println("usage: plugin call METHOD [--json]");
            System.exit(2);
        }
        byte[] input = System.in.readNBytes((1 << 20) + 1);
        SmapiPlugin plugin = new SmapiPlugin(Lifecycles.standard(System.getenv(), List.of()), "dev");
        SmapiPlugin.Outcome outcome = plugin.call(args[2], input);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println(outcome.stdout());
        out.flush();
        System.exit(outcome.exitStatus());
    }
}
