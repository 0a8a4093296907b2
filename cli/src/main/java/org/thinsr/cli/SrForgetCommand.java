package org.thinsr.cli;

import java.util.concurrent.Callable;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(
        name = "sr-forget",
        mixinStandardHelpOptions = true,
        description = "Detach every VDI of an SR and unregister it from this host, keeping all data. Idempotent.")
final class SrForgetCommand implements Callable<Integer> {
    @Mixin
    LifecycleOptions options;

    @Override
    public Integer call() {
        options.lifecycle()
                .srForget(options.srRef()
                        .orElseThrow(() -> new ThinsrException(ErrorCode.USAGE, "sr-forget needs --sr")));
        return 0;
    }
}
