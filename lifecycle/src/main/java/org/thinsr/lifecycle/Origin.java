package org.thinsr.lifecycle;

import java.util.Objects;
import java.util.Set;

/**
 * A read-only external origin (a template's image) as a backend can open it, after the template's
 * URI has been resolved by a scheme.
 *
 * @param location a local path (file or block device) or an NBD URI ({@code nbd://host:port/name},
 *     {@code nbd+unix:///name?socket=/path}); never a shell word
 * @param format the image format of what {@code location} holds: {@code raw}, {@code qcow2},
 *     {@code vpc} or {@code vmdk} (qemu's names). Backends that need a block device (lvm-thin)
 *     accept {@code raw} only and expose other formats through qemu themselves.
 * @param virtualSizeBytes the origin's virtual size, &gt;= 0
 */
public record Origin(String location, String format, long virtualSizeBytes) {
    public static final Set<String> FORMATS = Set.of("raw", "qcow2", "vpc", "vmdk");

    public Origin {
        Objects.requireNonNull(location, "location");
        if (location.isEmpty() || location.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("origin location is empty or holds a NUL");
        }
        if (!FORMATS.contains(format)) {
            throw new IllegalArgumentException("origin format '" + format + "' is not one of " + FORMATS);
        }
        if (virtualSizeBytes < 0) {
            throw new IllegalArgumentException("virtualSizeBytes is negative: " + virtualSizeBytes);
        }
    }
}
