package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class UriSchemesTest {
    @TempDir
    Path dir;

    /** A fake runner recording argument lists and answering with a fixed result. */
    static final class RecordingRunner implements CommandRunner {
        final List<List<String>> calls = new ArrayList<>();
        Result answer = new Result(0, "/dev/fake0\n", "");

        @Override
        public Result run(List<String> argv, Map<String, String> environment, Duration timeout) {
            calls.add(List.copyOf(argv));
            return answer;
        }
    }

    private Path script(String name) throws Exception {
        Path script = dir.resolve(name);
        Files.writeString(script, "#!/bin/sh\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private static void assertCode(Runnable call, ErrorCode code) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ThinsrException.class, e -> assertThat(e.code())
                .isEqualTo(code));
    }

    @Test
    void builtInSchemesNeedNoScript() throws Exception {
        RecordingRunner runner = new RecordingRunner();
        UriSchemes schemes = new UriSchemes(runner, List.of(dir));
        Path file = Files.writeString(dir.resolve("t.img"), "x");
        assertThat(schemes.attach("file://" + file)).isEqualTo(file.toString());
        assertThat(schemes.attach("nbd://host:10809/export")).isEqualTo("nbd://host:10809/export");
        assertThat(schemes.attach("nbd+unix:///e?socket=/run/s.sock")).isEqualTo("nbd+unix:///e?socket=/run/s.sock");
        schemes.detach("file://" + file);
        assertThat(runner.calls).isEmpty();
    }

    @Test
    void scriptGetsActionAndUriAsSeparateArgumentsAndItsFirstLineIsTheLocation() throws Exception {
        Path script = script("smb");
        RecordingRunner runner = new RecordingRunner();
        UriSchemes schemes = new UriSchemes(runner, List.of(dir.resolve("missing"), dir));
        String uri = "smb://server/share/$(reboot)%20x;y&z*w.vhd";
        assertThat(schemes.attach(uri)).isEqualTo("/dev/fake0");
        schemes.detach(uri);
        assertThat(runner.calls)
                .containsExactly(List.of(script.toString(), "attach", uri), List.of(script.toString(), "detach", uri));
    }

    @Test
    void failingScriptIsToolFailedWithItsStderr() throws Exception {
        script("smb");
        RecordingRunner runner = new RecordingRunner();
        runner.answer = new CommandRunner.Result(3, "", "mount error(13): Permission denied");
        UriSchemes schemes = new UriSchemes(runner, List.of(dir));
        assertThatThrownBy(() -> schemes.attach("smb://s/x")).isInstanceOfSatisfying(ThinsrException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.TOOL_FAILED);
            assertThat(e.getMessage()).contains("status 3").contains("Permission denied");
        });
        runner.answer = new CommandRunner.Result(0, "\n", "");
        assertCode(() -> schemes.attach("smb://s/x"), ErrorCode.TOOL_FAILED);
    }

    @Test
    void malformedOrUnknownUrisFailClearly() throws Exception {
        UriSchemes schemes = new UriSchemes(new RecordingRunner(), List.of(dir));
        assertCode(() -> schemes.parse("gopher://x/y"), ErrorCode.UNSUPPORTED);
        assertCode(() -> schemes.parse("relative/path"), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.parse(""), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.parse("file://x" + "a".repeat(5000)), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.parse("file:///a\nb"), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.parse("file:relative"), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.parse("file:///x?query"), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.parse("../x://y"), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> schemes.attach("file:///no/such/template.img"), ErrorCode.VDI_NOT_FOUND);
    }

    @Test
    void schemeDirectoriesComeFromOptionThenEnvironmentThenXapiThenBundled() {
        UriSchemes schemes = UriSchemes.standard(
                List.of(Path.of("/opt/a")),
                Map.of("THINSR_SCHEME_DIR", "/opt/b::/opt/c"),
                java.util.Optional.of(Path.of("/opt/bundled")));
        assertThat(schemes.directories())
                .containsExactly(
                        Path.of("/opt/a"),
                        Path.of("/opt/b"),
                        Path.of("/opt/c"),
                        UriSchemes.XAPI_SCHEME_DIR,
                        Path.of("/opt/bundled"));
    }
}
