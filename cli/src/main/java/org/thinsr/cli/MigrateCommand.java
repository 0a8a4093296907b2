package org.thinsr.cli;

import java.io.IOException;
import java.io.PrintWriter;
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
import org.thinsr.migrate.XapiImportDestination;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "migrate",
        mixinStandardHelpOptions = true,
        description = "Move a VDI to another host's thinsr server (http:// or https://), into an existing VDI"
                + " behind xapi's /import_raw_vdi (XenServer, XCP-ng), or into an NBD export (nbd://,"
                + " nbd+unix://), sending only allocated and changed blocks. Resumable, verified.")
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
            description = "The destination: a thinsr server (http://HOST:PORT/); an existing VDI at least as large"
                    + " that reads as zeros, behind xapi's raw import with chunked framing"
                    + " (https://[USER:PASS@]HOST/import_raw_vdi?vdi=UUID[&session_id=REF]; no --verify,"
                    + " --keep-partial or --resume); or an NBD export at least as large as the VDI that reads as"
                    + " zeros (nbd://HOST:PORT/NAME, nbd+unix:///NAME?socket=PATH).")
    String to;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for the destination server.")
    String token;

    @Option(
            names = "--live",
            description = "Mirror a VDI attached through qemu-storage-daemon (file SR) into the NBD export --to"
                    + " with qemu's blockdev-mirror while it stays in use, then switch its attachment to the"
                    + " destination.")
    boolean live;

    /** One chunked PUT per pass: --connections does not apply, said once on stderr when given. */
    private XapiImportDestination xapiDestination(URI uri) {
        XapiImportDestination xapi = new XapiImportDestination(uri, Optional.ofNullable(token));
        if (spec.commandLine().getParseResult().hasMatchedOption("--connections") && copy.connections > 1) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("thinsr: note: --connections " + copy.connections
                    + " is ignored: xapi /import_raw_vdi takes one chunked PUT per pass");
            err.flush();
        }
        return xapi;
    }

    @Override
    public Integer call() throws IOException {
        if (live) {
            return new LiveMigration(spec, options, copy).run(vdi, to);
        }
        URI uri;
        try {
            uri = URI.create(to);
        } catch (IllegalArgumentException e) {
            throw new ThinsrException(ErrorCode.USAGE, "--to: not a URL: " + e.getMessage());
        }
        String scheme = uri.getScheme();
        Migration.Destination destination =
                switch (scheme == null ? "" : scheme.toLowerCase(Locale.ROOT)) {
                    case "http", "https" ->
                        XapiImportDestination.accepts(uri)
                                ? xapiDestination(uri)
                                : new HttpDestination(new HttpDiskClient(uri, Optional.ofNullable(token)));
                    case "nbd", "nbd+unix", "nbds" -> new NbdDestination(to, Math.min(copy.connections, 16));
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
