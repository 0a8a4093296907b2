package org.thinsr.qmpclient;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where an NBD export lives, parsed from the URIs qemu and libnbd write (the NBD URI specification
 * in {@code doc/uri.md}): {@code nbd://host[:port][/export]} for TCP (port 10809 by default) and
 * {@code nbd+unix:///[export]?socket=PATH} for a unix socket. The export name is the path without
 * its leading {@code /}, percent-decoded; an empty name selects the server's default export.
 *
 * @param host TCP host; {@code null} for a unix socket
 * @param port TCP port; 0 for a unix socket
 * @param socket unix socket path; {@code null} for TCP
 * @param exportName the export name, possibly empty
 */
public record NbdUri(String host, int port, Path socket, String exportName) {
    public static final int DEFAULT_PORT = 10809;

    public NbdUri {
        Objects.requireNonNull(exportName, "exportName");
        if ((host == null) == (socket == null)) {
            throw new IllegalArgumentException("exactly one of host and socket must be given: " + host + ", " + socket);
        }
        if (host != null && (port < 1 || port > 65535)) {
            throw new IllegalArgumentException("port is outside [1, 65535]: " + port);
        }
        if (exportName.length() > NbdProtocol.MAX_NAME) {
            throw new IllegalArgumentException(
                    "export name is " + exportName.length() + " characters, at most " + NbdProtocol.MAX_NAME);
        }
    }

    public static NbdUri unix(Path socket, String exportName) {
        return new NbdUri(null, 0, socket, exportName);
    }

    public static NbdUri tcp(String host, int port, String exportName) {
        return new NbdUri(host, port, null, exportName);
    }

    public boolean isUnix() {
        return socket != null;
    }

    /**
     * Parses an NBD URI.
     *
     * @throws IllegalArgumentException naming the URI and what is wrong with it (TLS schemes {@code
     *     nbds} and {@code nbds+unix} are not supported)
     */
    public static NbdUri parse(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("NBD URI '" + text + "' is malformed: " + e.getMessage(), e);
        }
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new IllegalArgumentException("NBD URI '" + text
                    + "' has no scheme, expected nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH");
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        String exportName = decode(path.startsWith("/") ? path.substring(1) : path);
        return switch (scheme) {
            case "nbd" -> parseTcp(text, uri, exportName);
            case "nbd+unix" -> parseUnix(text, uri, exportName);
            case "nbds", "nbds+unix" ->
                throw new IllegalArgumentException("NBD URI '" + text + "': TLS (" + scheme + ") is not supported");
            default ->
                throw new IllegalArgumentException(
                        "NBD URI '" + text + "': unknown scheme '" + scheme + "', expected nbd or nbd+unix");
        };
    }

    private static NbdUri parseTcp(String text, URI uri, String exportName) {
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("NBD URI '" + text + "' has no host");
        }
        if (uri.getRawQuery() != null) {
            throw new IllegalArgumentException(
                    "NBD URI '" + text + "': unexpected query '" + uri.getRawQuery() + "' for a TCP URI");
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return tcp(host, uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort(), exportName);
    }

    private static NbdUri parseUnix(String text, URI uri, String exportName) {
        if (uri.getRawAuthority() != null) {
            throw new IllegalArgumentException(
                    "NBD URI '" + text + "': a unix socket URI has no host, expected nbd+unix:///EXPORT?socket=PATH");
        }
        String socket = null;
        String query = uri.getRawQuery();
        if (query != null) {
            for (String parameter : query.split("&", -1)) {
                if (parameter.startsWith("socket=")) {
                    socket = decode(parameter.substring("socket=".length()));
                } else {
                    throw new IllegalArgumentException("NBD URI '" + text + "': unknown query parameter '" + parameter
                            + "', expected socket=PATH");
                }
            }
        }
        if (socket == null || socket.isEmpty()) {
            throw new IllegalArgumentException("NBD URI '" + text + "' has no socket=PATH query parameter");
        }
        return unix(Path.of(socket), exportName);
    }

    private static String decode(String raw) {
        return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The URI in the form qemu and libnbd accept. */
    @Override
    public String toString() {
        String export = URI_PATH_ESCAPER.escape(exportName);
        if (socket != null) {
            return "nbd+unix:///" + export + "?socket=" + socket;
        }
        String hostPart = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return "nbd://" + hostPart + ":" + port + "/" + export;
    }

    private static final PathEscaper URI_PATH_ESCAPER = new PathEscaper();

    /** Percent-encodes everything but unreserved characters and {@code /}. */
    private static final class PathEscaper {
        String escape(String text) {
            StringBuilder out = new StringBuilder();
            for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
                char c = (char) (b & 0xff);
                if ((c >= 'a' && c <= 'z')
                        || (c >= 'A' && c <= 'Z')
                        || (c >= '0' && c <= '9')
                        || "-._~/:".indexOf(c) >= 0) {
                    out.append(c);
                } else {
                    out.append('%').append(String.format("%02X", b & 0xff));
                }
            }
            return out.toString();
        }
    }
}
