package org.thinsr.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.thinsr.httpexport.HttpDiskClient;
import org.thinsr.httpexport.LifecycleDiskStore;
import org.thinsr.httpexport.LocalTransfers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = "Write a VDI as raw, VHD or XVA tar to a file or standard output, from this host's SR or from"
                + " a thinsr server (--url). Only allocated blocks are read.")
final class ExportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Option(
            names = "--format",
            paramLabel = "FORMAT",
            description = "raw, vhd, vhd-fixed or tar (default: ${DEFAULT-VALUE}).")
    String format = "vhd";

    @Option(
            names = {"-o", "--output"},
            paramLabel = "FILE",
            description = "Where to write; - for standard output (default).")
    String output = "-";

    @Option(names = "--base", paramLabel = "VDI", description = "Export only what changed since this VDI (a snapshot).")
    String base;

    @Option(names = "--url", paramLabel = "URL", description = "Export from the thinsr server at URL instead.")
    URI url;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for --url.")
    String token;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        ProgressBar bar = new ProgressBar(err, "export");
        AtomicLong done = new AtomicLong();
        boolean toStdout = output.equals("-");
        Path target = toStdout ? null : Path.of(output);
        Path partial = toStdout ? null : target.resolveSibling(target.getFileName() + ".part");
        try (OutputStream out = toStdout ? standardOutput() : Files.newOutputStream(partial)) {
            if (url != null) {
                try (HttpDiskClient client = new HttpDiskClient(url, Optional.ofNullable(token))) {
                    client.download(vdi, format, Optional.ofNullable(base), out);
                }
            } else {
                try (LifecycleDiskStore store = new LifecycleDiskStore(options.lifecycle(), options.srRef())) {
                    AtomicLong total = new AtomicLong();
                    LocalTransfers.export(
                            store,
                            vdi,
                            format,
                            Optional.ofNullable(base),
                            out,
                            total::set,
                            n -> bar.update(done.addAndGet(n), total.get()));
                }
            }
            out.flush();
        } catch (IOException | RuntimeException e) {
            if (partial != null) {
                Files.deleteIfExists(partial);
            }
            throw e;
        }
        bar.finish();
        if (partial != null) {
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return 0;
    }

    /** Standard output that a try-with-resources flushes but never closes. */
    private static OutputStream standardOutput() {
        return new FilterOutputStream(new FileOutputStream(FileDescriptor.out)) {
            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                out.write(bytes, offset, length);
            }

            @Override
            public void close() throws IOException {
                flush();
            }
        };
    }
}
