package org.thinsr.cli;

import java.io.IOException;
import java.net.URI;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.httpexport.HttpDiskClient;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.migrate.HttpDestination;
import org.thinsr.migrate.Migration;
import org.thinsr.migrate.NbdDestination;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "migrate",
        mixinStandardHelpOptions = true,
        description = "Move a VDI to another host's thinsr server (http:// or https://) or into an NBD export"
                + " (nbd://, nbd+unix://), sending only allocated and changed blocks. Resumable, verified.")
final class MigrateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Mixin
    CopyOptions copy;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI to move: uuid or unique name label.")
    String vdi;

    @Option(
            names = "--to",
            required = true,
            paramLabel = "URL",
            description = "The destination: a thinsr server (http://HOST:PORT/), or an NBD export at least as"
                    + " large as the VDI that reads as zeros (nbd://HOST:PORT/NAME, nbd+unix:///NAME?socket=PATH).")
    String to;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for the destination server.")
    String token;

    @Option(
            names = "--live",
            description = "Mirror a VDI attached through qemu-storage-daemon (file SR) into the NBD export --to"
                    + " with qemu's blockdev-mirror while it stays in use, then switch its attachment to the"
                    + " destination.")
    boolean live;

    @Override
    public Integer call() throws IOException {
        if (live) {
            return new LiveMigration(spec, options, copy).run(vdi, to);
        }
        String scheme = URI.create(to).getScheme();
        Migration.Destination destination =
                switch (scheme == null ? "" : scheme.toLowerCase(Locale.ROOT)) {
                    case "http", "https" ->
                        new HttpDestination(new HttpDiskClient(URI.create(to), Optional.ofNullable(token)));
                    case "nbd", "nbd+unix", "nbds" -> new NbdDestination(to);
                    default ->
                        throw new ThinsrException(
                                ErrorCode.USAGE,
                                "--to: actual '" + to + "', expected an http(s)://, nbd:// or nbd+unix:// URL");
                };
        Lifecycle lifecycle = options.lifecycle();
        String uuid = VdiCopyCommand.resolve(lifecycle, options, vdi);
        return copy.run(spec, lifecycle, options, uuid, destination);
    }
}
