package org.thinsr.httpexport;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * How {@code thinsr serve} listens: address and port (port 0 picks a free one), optional TLS
 * certificate and key (PEM), optional token file (see {@link Authenticator}), and the bounds.
 *
 * @param maxRequestHeaderBytes request line plus headers, query included; larger → 431
 */
public record ServerConfig(
        String host,
        int port,
        Optional<Path> tlsCertificate,
        Optional<Path> tlsKey,
        Optional<Path> tokenFile,
        int maxTransfers,
        int maxTransfersPerClient,
        int maxRequestHeaderBytes) {
    public static final int DEFAULT_PORT = 8080;

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        if (tlsCertificate.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (maxTransfers < 1 || maxTransfersPerClient < 1 || maxRequestHeaderBytes < 1024) {
            throw new IllegalArgumentException("limits too small: transfers " + maxTransfers + ", per client "
                    + maxTransfersPerClient + ", header bytes " + maxRequestHeaderBytes);
        }
    }

    /** Loopback, port 8080, no TLS, no tokens, 128 transfers (32 per client), 16 KiB of headers. */
    public static ServerConfig defaults() {
        return new ServerConfig(
                "127.0.0.1", DEFAULT_PORT, Optional.empty(), Optional.empty(), Optional.empty(), 128, 32, 16 * 1024);
    }

    public ServerConfig withListen(String newHost, int newPort) {
        return new ServerConfig(
                newHost,
                newPort,
                tlsCertificate,
                tlsKey,
                tokenFile,
                maxTransfers,
                maxTransfersPerClient,
                maxRequestHeaderBytes);
    }

    public ServerConfig withTls(Path certificate, Path key) {
        return new ServerConfig(
                host,
                port,
                Optional.of(certificate),
                Optional.of(key),
                tokenFile,
                maxTransfers,
                maxTransfersPerClient,
                maxRequestHeaderBytes);
    }

    public ServerConfig withTokenFile(Path file) {
        return new ServerConfig(
                host,
                port,
                tlsCertificate,
                tlsKey,
                Optional.of(file),
                maxTransfers,
                maxTransfersPerClient,
                maxRequestHeaderBytes);
    }

    public ServerConfig withLimits(int transfers, int perClient) {
        return new ServerConfig(
                host, port, tlsCertificate, tlsKey, tokenFile, transfers, perClient, maxRequestHeaderBytes);
    }

    public boolean loopbackOnly() {
        return host.equals("127.0.0.1") || host.equals("::1") || host.equals("localhost");
    }
}
