package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bundled {@code schemes/http} script on its own: attach/detach with real nbdkit, and its failure messages. */
class HttpSchemeScriptIT {
    @TempDir
    Path workDir;

    record Result(int status, String out, String err) {}

    private Result script(Map<String, String> environment, String... args) throws Exception {
        ProcessBuilder builder = new ProcessBuilder();
        builder.command().add(TestLifecycles.bundledSchemes().resolve("http").toString());
        builder.command().addAll(java.util.List.of(args));
        builder.environment().put("THINSR_RUN_DIR", workDir.resolve("run").toString());
        builder.environment().putAll(environment);
        builder.redirectError(workDir.resolve("err").toFile());
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(process.exitValue(), out, Files.readString(workDir.resolve("err")));
    }

    @Test
    void attachIsIdempotentAndServesTheUrlAndDetachStopsNbdkit() throws Exception {
        Tools.require("nbdkit", "nbdkit");
        Tools.require("nbdinfo", "libnbd-bin");
        Path image = workDir.resolve("x.img");
        Files.write(image, new byte[1 << 20]);
        com.sun.net.httpserver.HttpServer server = LifecycleIT.RangeFileServer.start(image);
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/x.img";
            Result first = script(Map.of(), "attach", url);
            assertThat(first.status()).as(first.err()).isZero();
            Result second = script(Map.of(), "attach", url);
            assertThat(second.out()).isEqualTo(first.out());
            String uri = first.out().strip();
            assertThat(uri).startsWith("nbd+unix:///?socket=" + workDir.resolve("run"));
            Process info = new ProcessBuilder("nbdinfo", "--size", uri)
                    .redirectErrorStream(true)
                    .start();
            String size = new String(info.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertThat(info.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(size).isEqualTo(Long.toString(1 << 20));
            assertThat(script(Map.of(), "detach", url).status()).isZero();
            assertThat(script(Map.of(), "detach", url).status()).isZero();
            try (var files = Files.list(workDir.resolve("run"))) {
                assertThat(files).isEmpty();
            }
        } finally {
            server.stop(0);
        }
    }

    @Test
    void missingCurlPluginFailsNamingThePackage() throws Exception {
        Path bin = workDir.resolve("bin");
        Files.createDirectories(bin);
        Path fakeNbdkit = bin.resolve("nbdkit");
        Files.writeString(fakeNbdkit, "#!/bin/sh\necho 'nbdkit: error: cannot open plugin \"curl\"' >&2\nexit 1\n");
        Files.setPosixFilePermissions(fakeNbdkit, PosixFilePermissions.fromString("rwxr-xr-x"));
        Result result = script(Map.of("PATH", bin + ":/usr/bin:/bin"), "attach", "http://example.invalid/x.img");
        assertThat(result.status()).isEqualTo(3);
        assertThat(result.err()).contains("nbdkit has no curl plugin").contains("Debian package nbdkit");
    }

    @Test
    void missingNbdkitFailsNamingThePackage() throws Exception {
        Path bin = workDir.resolve("empty-bin");
        Files.createDirectories(bin);
        for (String tool : new String[] {"sh", "mkdir", "sha256sum", "cut", "id", "cat", "rm", "sleep", "printf"}) {
            Path real = Tools.require(tool, "coreutils");
            Files.copy(real.toRealPath(), bin.resolve(tool));
        }
        Result result = script(Map.of("PATH", bin.toString()), "attach", "https://example.invalid/x.img");
        assertThat(result.status()).isEqualTo(3);
        assertThat(result.err()).contains("nbdkit is not installed: install the Debian package nbdkit");
    }

    @Test
    void nonHttpUrlAndBadUsageAreRefused() throws Exception {
        assertThat(script(Map.of(), "attach", "ftp://x/y").status()).isEqualTo(2);
        assertThat(script(Map.of(), "frobnicate", "http://x/y").status()).isEqualTo(2);
        assertThat(script(Map.of(), "attach").status()).isEqualTo(2);
    }
}
