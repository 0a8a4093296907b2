package org.thinsr.lifecycle;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Maps template URIs to something qemu and the backends can open, after the design note's "URIs"
 * section: {@code <scheme-dir>/<scheme> attach URI} prints a local path (or an NBD URI) on its first
 * line of stdout, {@code <scheme-dir>/<scheme> detach URI} undoes it. Scripts get the URI as one
 * argument, never through a shell.
 *
 * <p>Built in, no script: {@code file:///abs/path} (the path; must exist), {@code nbd://host[:port]/export}
 * and {@code nbd+unix:///export?socket=/path} (passed to qemu as they are). Script directories are
 * searched in order: the ones given (from {@code --scheme-dir} or {@code THINSR_SCHEME_DIR}, a
 * colon-separated list), then {@code /usr/libexec/xapi/storage}, then thinsr's own {@code
 * schemes} directory (which ships {@code http} and {@code https} using nbdkit's curl plugin).
 */
public final class UriSchemes {
    /** The xapi location of scheme scripts from the design note. */
    public static final Path XAPI_SCHEME_DIR = Path.of("/usr/libexec/xapi/storage");

    private static final Pattern SCHEME = Pattern.compile("[a-z][a-z0-9+.-]{0,31}");
    private static final int MAX_URI_LENGTH = 4096;
    private static final Duration SCRIPT_TIMEOUT = Duration.ofMinutes(2);

    private final CommandRunner runner;
    private final List<Path> directories;

    /**
     * @param directories script directories in search order
     */
    public UriSchemes(CommandRunner runner, List<Path> directories) {
        this.runner = runner;
        this.directories = List.copyOf(directories);
    }

    /**
     * The standard search path: {@code explicit} (may be empty), then {@code THINSR_SCHEME_DIR}
     * entries, then {@link #XAPI_SCHEME_DIR}, then {@code bundled} if given.
     */
    public static UriSchemes standard(List<Path> explicit, Map<String, String> environment, Optional<Path> bundled) {
        List<Path> directories = new ArrayList<>(explicit);
        String fromEnvironment = environment.get("THINSR_SCHEME_DIR");
        if (fromEnvironment != null) {
            for (String entry : fromEnvironment.split(":", -1)) {
                if (!entry.isBlank()) {
                    directories.add(Path.of(entry));
                }
            }
        }
        directories.add(XAPI_SCHEME_DIR);
        bundled.ifPresent(directories::add);
        return new UriSchemes(CommandRunner.PROCESSES, directories);
    }

    public List<Path> directories() {
        return directories;
    }

    /**
     * Parses and checks a template URI: at most 4096 characters, no control characters, a scheme
     * that is built in or has a script.
     *
     * @throws ThinsrException {@code INVALID_ARGUMENT} for a malformed URI, {@code UNSUPPORTED} for
     *     a scheme with no script
     */
    public URI parse(String text) {
        if (text == null || text.isEmpty() || text.length() > MAX_URI_LENGTH) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "template URI is empty or longer than " + MAX_URI_LENGTH + " characters",
                    String.valueOf(text)
                            .substring(0, Math.min(100, String.valueOf(text).length())));
        }
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < 0x20 || text.charAt(i) == 0x7f) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "template URI holds a control character at index " + i,
                        VolumeNames.printable(text));
            }
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "malformed template URI: " + e.getMessage(), text);
        }
        String scheme = scheme(uri);
        switch (scheme) {
            case "file" -> {
                if (uri.getPath() == null || !uri.getPath().startsWith("/") || uri.getRawQuery() != null) {
                    throw new ThinsrException(
                            ErrorCode.INVALID_ARGUMENT,
                            "file URI must be file:///absolute/path without a query: " + text,
                            text);
                }
            }
            case "nbd", "nbd+unix" -> {
                // qemu parses these itself
            }
            default -> script(scheme);
        }
        return uri;
    }

    private static String scheme(URI uri) {
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "template URI has no scheme: " + uri, uri.toString());
        }
        scheme = scheme.toLowerCase(Locale.ROOT);
        if (!SCHEME.matcher(scheme).matches()) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "invalid URI scheme '" + scheme + "'", scheme);
        }
        return scheme;
    }

    /** The script for {@code scheme}, or {@code UNSUPPORTED} naming the directories searched. */
    Path script(String scheme) {
        for (Path directory : directories) {
            Path candidate = directory.resolve(scheme);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new ThinsrException(
                ErrorCode.UNSUPPORTED,
                "no handler for URI scheme '" + scheme + "': no executable '" + scheme + "' in " + directories
                        + " (built in: file, nbd, nbd+unix)",
                scheme);
    }

    /**
     * Makes {@code uri} openable and returns where: a local path or an NBD URI. Idempotent for
     * scripts that are (the bundled ones are).
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND} for a missing {@code file://} path, {@code
     *     TOOL_FAILED} (with the script's stderr) when a script fails or prints nothing
     */
    public String attach(String uriText) {
        URI uri = parse(uriText);
        String scheme = scheme(uri);
        return switch (scheme) {
            case "file" -> {
                Path path = Path.of(uri.getPath());
                if (!Files.exists(path)) {
                    throw new ThinsrException(
                            ErrorCode.VDI_NOT_FOUND, "template file " + path + " does not exist", uriText);
                }
                yield path.toString();
            }
            case "nbd", "nbd+unix" -> uriText;
            default -> {
                Path script = script(scheme);
                List<String> argv = List.of(script.toString(), "attach", uriText);
                CommandRunner.Result result = runner.run(argv, Map.of(), SCRIPT_TIMEOUT);
                if (result.exitStatus() != 0) {
                    throw CommandRunner.failed(argv, result);
                }
                String location = result.stdout().lines().findFirst().orElse("").strip();
                if (location.isEmpty()) {
                    throw new ThinsrException(
                            ErrorCode.TOOL_FAILED,
                            script + " attach printed no path for " + uriText,
                            script.toString());
                }
                yield location;
            }
        };
    }

    /** Undoes {@link #attach}; built-in schemes need nothing. */
    public void detach(String uriText) {
        URI uri = parse(uriText);
        String scheme = scheme(uri);
        switch (scheme) {
            case "file", "nbd", "nbd+unix" -> {
                // nothing was set up
            }
            default -> {
                Path script = script(scheme);
                List<String> argv = List.of(script.toString(), "detach", uriText);
                CommandRunner.Result result = runner.run(argv, Map.of(), SCRIPT_TIMEOUT);
                if (result.exitStatus() != 0) {
                    throw CommandRunner.failed(argv, result);
                }
            }
        }
    }
}
