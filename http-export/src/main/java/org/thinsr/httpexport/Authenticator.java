package org.thinsr.httpexport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Checks {@code Authorization} headers against a token file: one credential per line, {@code #}
 * comments and blank lines ignored. A line {@code TOKEN} is a bearer token ({@code Authorization:
 * Bearer TOKEN}); a line {@code USER:PASSWORD} is an HTTP basic credential. Credentials are kept only
 * as SHA-256 digests and compared with {@link MessageDigest#isEqual}, in constant time, against
 * every entry (no early exit that would tell which one nearly matched).
 */
final class Authenticator {
    static final int MAX_HEADER_CHARS = 4096;
    static final int MAX_ENTRIES = 10_000;

    private final List<byte[]> bearerDigests;
    private final List<byte[]> basicDigests;

    private Authenticator(List<byte[]> bearerDigests, List<byte[]> basicDigests) {
        this.bearerDigests = List.copyOf(bearerDigests);
        this.basicDigests = List.copyOf(basicDigests);
    }

    /** Lets every request through: only for a server bound to loopback without a token file. */
    static Authenticator open() {
        return new Authenticator(List.of(), List.of());
    }

    static Authenticator fromTokenFile(Path tokenFile) throws IOException {
        List<byte[]> bearer = new ArrayList<>();
        List<byte[]> basic = new ArrayList<>();
        List<String> lines = Files.readAllLines(tokenFile, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (bearer.size() + basic.size() >= MAX_ENTRIES) {
                throw new IOException(tokenFile + ": more than " + MAX_ENTRIES + " credentials");
            }
            if (line.length() < 8) {
                throw new IOException(tokenFile + " line " + (i + 1) + ": credential of " + line.length()
                        + " characters, expected at least 8");
            }
            (line.indexOf(':') > 0 ? basic : bearer).add(sha256(line));
        }
        if (bearer.isEmpty() && basic.isEmpty()) {
            throw new IOException(tokenFile + ": no credentials (expected TOKEN or USER:PASSWORD lines)");
        }
        return new Authenticator(bearer, basic);
    }

    boolean isOpen() {
        return bearerDigests.isEmpty() && basicDigests.isEmpty();
    }

    /** Whether the {@code Authorization} header value (may be null) grants access. */
    boolean allows(String authorization) {
        if (isOpen()) {
            return true;
        }
        if (authorization == null || authorization.length() > MAX_HEADER_CHARS) {
            return false;
        }
        String value = authorization.strip();
        if (value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return matchesAny(bearerDigests, sha256(value.substring(7).strip()));
        }
        if (value.regionMatches(true, 0, "Basic ", 0, 6)) {
            byte[] decoded;
            try {
                decoded = Base64.getDecoder().decode(value.substring(6).strip());
            } catch (IllegalArgumentException e) {
                return false;
            }
            return matchesAny(basicDigests, sha256(new String(decoded, StandardCharsets.UTF_8)));
        }
        return false;
    }

    private static boolean matchesAny(List<byte[]> digests, byte[] candidate) {
        boolean match = false;
        for (byte[] digest : digests) {
            match |= MessageDigest.isEqual(digest, candidate);
        }
        return match;
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
