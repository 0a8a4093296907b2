package org.thinsr.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.Progress;
import org.thinsr.lifecycle.Provisioning;
import org.thinsr.lifecycle.VdiView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-create",
        mixinStandardHelpOptions = true,
        description = "Create an empty disk, thin by default, its volume named after the label.")
final class VdiCreateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Option(names = "--name", paramLabel = "LABEL", description = "The name label (also gives the volume name).")
    String name = "";

    @Option(names = "--description", paramLabel = "TEXT", description = "The description.")
    String description = "";

    @Option(
            names = "--size",
            required = true,
            paramLabel = "SIZE",
            converter = SizeConverter.class,
            description = "The virtual size: bytes, or with a K, M, G, T suffix (powers of 1024).")
    long size;

    @Option(
            names = "--preallocate",
            description = "Allocate and zero every block now (slow; shows progress; Ctrl-C cancels and leaves no VDI).")
    boolean preallocate;

    @Option(names = "--key", paramLabel = "KEY=VALUE", description = "A key to set on the new VDI (repeatable).")
    Map<String, String> keys = new HashMap<>();

    @Override
    public Integer call() {
        try (Interruption interruption = new Interruption(Duration.ofMinutes(1))) {
            ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), "zeroing");
            Progress progress = new Progress() {
                @Override
                public void update(long doneBytes, long totalBytes) {
                    bar.update(doneBytes, totalBytes);
                }

                @Override
                public boolean cancelled() {
                    return interruption.cancelled();
                }
            };
            VdiView vdi = options.lifecycle()
                    .vdiCreate(
                            options.srRef(),
                            name,
                            description,
                            size,
                            preallocate ? Provisioning.PREALLOCATED : Provisioning.THIN,
                            keys,
                            progress);
            bar.finish();
            PrintWriter out = spec.commandLine().getOut();
            if (options.json) {
                LifecycleOptions.printJson(out, vdi);
            } else {
                out.println(vdi.uuid() + " " + vdi.volume());
                out.flush();
            }
            return 0;
        }
    }
}
