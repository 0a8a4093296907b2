package org.thinsr.cli;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
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
        name = "import",
        mixinStandardHelpOptions = true,
        description = "Replace a VDI's content with a raw, VHD, XVA tar or chunked image, on this host or on a"
                + " thinsr server (--url). The image goes to a staging copy first; the VDI changes only when"
                + " the whole image was read and checked.")
final class ImportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Parameters(index = "1", paramLabel = "FILE", description = "The image; - for standard input.")
    String input;

    @Option(
            names = "--format",
            paramLabel = "FORMAT",
            description = "raw, vhd, tar or chunked (default: from the file name's extension, else raw).")
    String format;

    @Option(names = "--url", paramLabel = "URL", description = "Import into the thinsr server at URL instead.")
    URI url;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for --url.")
    String token;

    @Override
    public Integer call() throws IOException {
        String chosen = format != null ? format : formatOf(input);
        boolean fromStdin = input.equals("-");
        long length = fromStdin ? -1 : Files.size(Path.of(input));
        PrintWriter err = spec.commandLine().getErr();
        ProgressBar bar = new ProgressBar(err, "import");
        AtomicLong done = new AtomicLong();
        try (InputStream in =
                fromStdin ? new FileInputStream(FileDescriptor.in) : Files.newInputStream(Path.of(input))) {
            if (url != null) {
                try (HttpDiskClient client = new HttpDiskClient(url, Optional.ofNullable(token))) {
                    client.upload(vdi, chosen, in, length);
                }
            } else {
                try (LifecycleDiskStore store = new LifecycleDiskStore(options.lifecycle(), options.srRef())) {
                    LocalTransfers.importInto(
                            store, vdi, chosen, in, length, n -> bar.update(done.addAndGet(n), length));
                }
            }
        }
        bar.finish();
        return 0;
    }

    static String formatOf(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".vhd")) {
            return "vhd";
        }
        if (lower.endsWith(".tar") || lower.endsWith(".xva")) {
            return "tar";
        }
        return "raw";
    }
}
