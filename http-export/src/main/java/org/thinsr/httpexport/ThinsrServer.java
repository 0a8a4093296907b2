package org.thinsr.httpexport;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.util.Base64;
import java.util.Collection;
import java.util.function.Consumer;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.VirtualThreadPool;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * {@code thinsr serve}: a Jetty 12 server on virtual threads in front of a {@link DiskStore}.
 * Listens on loopback unless told otherwise, and refuses to listen anywhere else without a token
 * file. Close it to stop.
 */
public final class ThinsrServer implements AutoCloseable {
    /** Bytes of a connection's network buffer: a request body is read from the socket this much at a time. */
    static final int INPUT_BUFFER_BYTES = 256 << 10;

    private final Server server;
    private final ServerConnector connector;
    private final boolean tls;

    private ThinsrServer(Server server, ServerConnector connector, boolean tls) {
        this.server = server;
        this.connector = connector;
        this.tls = tls;
    }

    /** Starts serving {@code store}; one access-log line per request goes to {@code accessLog}. */
    public static ThinsrServer start(ServerConfig config, DiskStore store, Formats formats, Consumer<String> accessLog)
            throws IOException {
        Authenticator authenticator = config.tokenFile().isPresent()
                ? Authenticator.fromTokenFile(config.tokenFile().get())
                : Authenticator.open();
        if (!config.loopbackOnly() && authenticator.isOpen()) {
            throw new ThinsrException(
                    ErrorCode.FORBIDDEN,
                    "refusing to listen on " + config.host()
                            + " without --token-file: anyone could read and write disks");
        }
        VirtualThreadPool threads = new VirtualThreadPool();
        threads.setName("thinsr-http");
        // disk bodies arrive in network buffers of INPUT_BUFFER_BYTES (Jetty's default, 8 KiB, meant
        // a read and a callback every 8 KiB), pooled up to that size (Jetty pools 64 KiB by default)
        Server server = new Server(threads, null, new ArrayByteBufferPool(0, 0, INPUT_BUFFER_BYTES));
        HttpConfiguration http = new HttpConfiguration();
        http.setInputBufferSize(INPUT_BUFFER_BYTES);
        http.setRequestHeaderSize(config.maxRequestHeaderBytes());
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        ServerConnector connector;
        if (config.tlsCertificate().isPresent()) {
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setKeyStore(
                    keyStore(config.tlsCertificate().get(), config.tlsKey().orElseThrow()));
            ssl.setKeyStorePassword("");
            ssl.setIncludeProtocols("TLSv1.3", "TLSv1.2");
            ssl.setSniRequired(false);
            HttpConfiguration https = new HttpConfiguration(http);
            SecureRequestCustomizer secure = new SecureRequestCustomizer();
            secure.setSniHostCheck(false);
            https.addCustomizer(secure);
            connector = new ServerConnector(
                    server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(https));
        } else {
            HttpConnectionFactory factory = new HttpConnectionFactory(http);
            factory.setInputBufferSize(INPUT_BUFFER_BYTES);
            connector = new ServerConnector(server, factory);
        }
        connector.setHost(config.host());
        connector.setPort(config.port());
        connector.setIdleTimeout(300_000);
        server.addConnector(connector);
        Metrics metrics = new Metrics();
        server.setHandler(new HttpApi(
                store,
                formats,
                authenticator,
                new ConcurrencyLimiter(config.maxTransfers(), config.maxTransfersPerClient()),
                metrics,
                new Tasks(Clock.systemUTC()),
                accessLog));
        server.setStopTimeout(5_000);
        try {
            server.start();
        } catch (IOException e) {
            throw new ThinsrException(
                    ErrorCode.IO_ERROR,
                    "cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(),
                    e);
        } catch (Exception e) {
            throw new IOException("cannot start the HTTP server: " + e.getMessage(), e);
        }
        return new ThinsrServer(server, connector, config.tlsCertificate().isPresent());
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    /** {@code http://HOST:PORT/} or {@code https://…}. */
    public URI uri() {
        String host = connector.getHost();
        if (host.indexOf(':') >= 0) {
            host = "[" + host + "]";
        }
        return URI.create((tls ? "https" : "http") + "://" + host + ":" + port() + "/");
    }

    /** Blocks until the server stops. */
    public void join() throws InterruptedException {
        server.join();
    }

    @Override
    public void close() throws IOException {
        try {
            server.stop();
        } catch (Exception e) {
            throw new IOException("cannot stop the HTTP server: " + e.getMessage(), e);
        }
    }

    /** A key store holding the PEM private key (PKCS#8) and its certificate chain. */
    static KeyStore keyStore(Path certificatePem, Path keyPem) throws IOException {
        try {
            Collection<? extends Certificate> chain;
            try (InputStream in = Files.newInputStream(certificatePem)) {
                chain = CertificateFactory.getInstance("X.509").generateCertificates(in);
            }
            if (chain.isEmpty()) {
                throw new IOException(certificatePem + ": no certificate found (expected PEM 'BEGIN CERTIFICATE')");
            }
            PrivateKey key = privateKey(keyPem);
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("thinsr", key, new char[0], chain.toArray(new Certificate[0]));
            return store;
        } catch (GeneralSecurityException e) {
            throw new IOException(
                    "cannot load TLS certificate " + certificatePem + " and key " + keyPem + ": " + e.getMessage(), e);
        }
    }

    private static PrivateKey privateKey(Path keyPem) throws IOException, GeneralSecurityException {
        String text = Files.readString(keyPem, StandardCharsets.US_ASCII);
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int from = text.indexOf(begin);
        int to = text.indexOf(end);
        if (from < 0 || to < from) {
            throw new IOException(keyPem + ": expected an unencrypted PKCS#8 PEM key ('BEGIN PRIVATE KEY');"
                    + " convert with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
        }
        byte[] der = Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : new String[] {"RSA", "EC", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IOException(keyPem + ": key is not RSA, EC or Ed25519");
    }
}
