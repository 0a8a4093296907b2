package org.thinsr.cli;

import java.util.concurrent.Callable;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "sr-destroy",
        mixinStandardHelpOptions = true,
        description = "Destroy an SR and its storage. Refused while VDIs exist unless --force.")
final class SrDestroyCommand implements Callable<Integer> {
    @Mixin
    LifecycleOptions options;

    @Option(names = "--force", description = "Destroy the SR with every VDI in it.")
    boolean force;

    @Override
    public Integer call() {
        options.lifecycle()
                .srDestroy(
                        options.srRef()
                                .orElseThrow(() -> new ThinsrException(ErrorCode.USAGE, "sr-destroy needs --sr")),
                        force);
        return 0;
    }
}
