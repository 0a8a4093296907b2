package org.thinsr.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.httpexport.LifecycleDiskStore;
import org.thinsr.httpexport.ServerConfig;
import org.thinsr.httpexport.StandardFormats;
import org.thinsr.httpexport.ThinsrServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = "Serve the VDIs of an SR over HTTP: sparse, resumable import and export as raw, VHD or"
                + " XVA tar, xapi- and imageio-compatible. Runs until interrupted.")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Option(
            names = "--listen",
            paramLabel = "HOST:PORT",
            description = "Address and port to listen on (default: ${DEFAULT-VALUE}). Anything but loopback"
                    + " needs --token-file.")
    String listen = "127.0.0.1:8080";

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "TLS certificate chain (PEM); with --tls-key.")
    Path tlsCertificate;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "TLS private key (unencrypted PKCS#8 PEM).")
    Path tlsKey;

    @Option(
            names = "--token-file",
            paramLabel = "FILE",
            description = "Credentials, one per line: TOKEN for 'Authorization: Bearer TOKEN', or USER:PASSWORD"
                    + " for HTTP basic auth.")
    Path tokenFile;

    @Option(
            names = "--max-transfers",
            paramLabel = "N",
            description = "Transfers in flight at once, in all (default: ${DEFAULT-VALUE}); beyond: 503.")
    int maxTransfers = 128;

    @Option(
            names = "--max-transfers-per-client",
            paramLabel = "N",
            description = "Transfers in flight from one client address (default: ${DEFAULT-VALUE}).")
    int maxPerClient = 32;

    @Override
    public Integer call() throws Exception {
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) {
            throw new ThinsrException(ErrorCode.USAGE, "--listen: actual '" + listen + "', expected HOST:PORT");
        }
        String host = listen.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(listen.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new ThinsrException(
                    ErrorCode.USAGE, "--listen: port '" + listen.substring(colon + 1) + "' is not a number");
        }
        ServerConfig config = ServerConfig.defaults().withListen(host, port).withLimits(maxTransfers, maxPerClient);
        if (tlsCertificate != null || tlsKey != null) {
            if (tlsCertificate == null || tlsKey == null) {
                throw new ThinsrException(ErrorCode.USAGE, "--tls-cert and --tls-key go together");
            }
            config = config.withTls(tlsCertificate, tlsKey);
        }
        if (tokenFile != null) {
            config = config.withTokenFile(tokenFile);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        CountDownLatch stopped = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        try (LifecycleDiskStore store = new LifecycleDiskStore(options.lifecycle(), options.srRef());
                ThinsrServer server = ThinsrServer.start(config, store, StandardFormats.all(), line -> {
                    synchronized (err) {
                        err.println(line);
                        err.flush();
                    }
                })) {
            store.list(); // creates the default SR on first use, and fails early on a bad --sr
            String base = server.uri().toString();
            String auth = tokenFile == null ? "" : "-H 'Authorization: Bearer TOKEN' ";
            out.println("thinsr serving "
                    + options.srRef().map(org.thinsr.lifecycle.SrRef::text).orElse("the default file SR") + " at "
                    + base);
            out.println("  list:     curl " + auth + base + "vdis");
            out.println("  create:   curl " + auth
                    + "-X POST -d '{\"name_label\":\"disk1\",\"virtual_size\":1073741824}' " + base + "vdis");
            out.println("  upload:   curl " + auth + "-T disk.raw '" + base + "vdis/disk1?format=raw'");
            out.println("  download: curl " + auth + "-o disk.vhd '" + base + "vdis/disk1?format=vhd'");
            out.flush();
            // On SIGTERM the JVM halts once its hooks return: the hook waits until the server and the
            // store are closed, so no qemu-storage-daemon is left attached behind us.
            Thread hook = new Thread(() -> {
                stopped.countDown();
                try {
                    closed.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            stopped.await();
        } finally {
            closed.countDown();
        }
        return 0;
    }
}
