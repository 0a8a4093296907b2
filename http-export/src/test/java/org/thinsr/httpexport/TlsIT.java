package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code thinsr serve --tls-cert --tls-key} with a certificate made by openssl, checked by curl. */
class TlsIT {
    @TempDir
    Path dir;

    @Test
    void servesHttpsWithThePemCertificateAndRefusesOldProtocols() throws Exception {
        String openssl = Tools.require("openssl", "openssl").toString();
        String curl = Tools.require("curl", "curl").toString();
        Path key = dir.resolve("key.pem");
        Path cert = dir.resolve("cert.pem");
        Tools.check(List.of(
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key.toString(),
                "-out",
                cert.toString(),
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1"));
        MemoryDiskStore store = new MemoryDiskStore();
        byte[] disk = new byte[1 << 20];
        disk[12345] = 7;
        store.put("disk1", disk);
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, "tls-secret-token\n");
        try (ThinsrServer server = ThinsrServer.start(
                ServerConfig.defaults()
                        .withListen("127.0.0.1", 0)
                        .withTls(cert, key)
                        .withTokenFile(tokens),
                store,
                Formats.raw(),
                line -> {})) {
            assertThat(server.uri().getScheme()).isEqualTo("https");
            Path out = dir.resolve("out.raw");
            Tools.check(List.of(
                    curl,
                    "-sSf",
                    "--cacert",
                    cert.toString(),
                    "-H",
                    "Authorization: Bearer tls-secret-token",
                    "-o",
                    out.toString(),
                    server.uri().resolve("/vdis/disk1").toString()));
            assertThat(Files.readAllBytes(out)).isEqualTo(disk);
            Tools.Result oldTls = Tools.run(
                    List.of(
                            curl,
                            "-sS",
                            "--cacert",
                            cert.toString(),
                            "--tlsv1.1",
                            "--tls-max",
                            "1.1",
                            "-o",
                            "/dev/null",
                            server.uri().resolve("/vdis").toString()),
                    null);
            assertThat(oldTls.status()).as("TLS 1.1 must be refused").isNotZero();
            Tools.Result noToken = Tools.run(
                    List.of(
                            curl,
                            "-sS",
                            "--cacert",
                            cert.toString(),
                            "-o",
                            "/dev/null",
                            "-w",
                            "%{http_code}",
                            server.uri().resolve("/vdis").toString()),
                    null);
            assertThat(noToken.stdout()).isEqualTo("401");
        }
    }
}
