package org.thinsr.vhdstream;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

/**
 * The per-chunk checksum companion of an XVA tar chunk (xapi {@code stream_vdi.ml}): a file named
 * after the chunk plus an extension, holding the checksum of the chunk's bytes as text. The importer
 * picks the algorithm from the extension and compares strings, so case matters.
 */
public enum TarChecksum {
    /** {@code .xxhash}: XXH64 with seed 0, {@code %016LX} (16 upper-case hex digits). XS/CH 8.1+. */
    XXHASH,
    /** {@code .checksum}: SHA-1, 40 lower-case hex digits. The legacy format. */
    SHA1;

    private static final XXHash64 XXH64 = XXHashFactory.fastestInstance().hash64();
    private static final HexFormat UPPER = HexFormat.of().withUpperCase();
    private static final HexFormat LOWER = HexFormat.of();

    /** The file-name extension, with its dot. */
    public String extension() {
        return switch (this) {
            case XXHASH -> ".xxhash";
            case SHA1 -> ".checksum";
        };
    }

    /** Length in bytes of the checksum text. */
    int textLength() {
        return switch (this) {
            case XXHASH -> 16;
            case SHA1 -> 40;
        };
    }

    /** The checksum text (ASCII) of {@code bytes[0, length)}. */
    String compute(byte[] bytes, int length) {
        return switch (this) {
            case XXHASH -> UPPER.toHexDigits(XXH64.hash(bytes, 0, length, 0L));
            case SHA1 -> {
                try {
                    MessageDigest digest = MessageDigest.getInstance("SHA-1");
                    digest.update(bytes, 0, length);
                    yield LOWER.formatHex(digest.digest());
                } catch (NoSuchAlgorithmException e) {
                    throw new IllegalStateException("the JDK has no SHA-1", e);
                }
            }
        };
    }

    /** The kind whose extension ends {@code name}, or {@code null}. */
    static TarChecksum ofName(String name) {
        for (TarChecksum kind : values()) {
            if (name.endsWith(kind.extension())) {
                return kind;
            }
        }
        return null;
    }
}
