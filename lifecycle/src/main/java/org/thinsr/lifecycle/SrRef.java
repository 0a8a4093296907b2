package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * How a command names an SR: {@code lvm:VG} (an lvm-thin SR on volume group VG), {@code
 * file:/path} or a plain path (a file SR directory).
 *
 * @param backend the backend kind
 * @param config the configuration to introduce it
 */
public record SrRef(String backend, SrConfig config) {
    public SrRef {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(config, "config");
    }

    /** Parses the {@code --sr} syntax. */
    public static SrRef parse(String text) {
        if (text == null || text.isBlank() || text.length() > 4096 || text.indexOf('\0') >= 0) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "SR reference is blank, too long or holds a NUL", String.valueOf(text));
        }
        if (text.startsWith("lvm:")) {
            String vg = text.substring(4);
            if (!vg.matches("[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,127}")) {
                throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "invalid volume group name '" + vg + "'", vg);
            }
            return new SrRef("lvm-thin", new SrConfig(Map.of("vg", vg)));
        }
        String path = text.startsWith("file:") ? text.substring(5) : text;
        return file(Path.of(path));
    }

    public static SrRef file(Path directory) {
        return new SrRef(
                FileBackend.KIND,
                SrConfig.of("path", directory.toAbsolutePath().normalize().toString()));
    }

    /** The reference of an SR the backend found or made. */
    public static SrRef of(SrInfo sr) {
        return new SrRef(sr.backend(), sr.config());
    }

    /** The text form {@link #parse} reads back. */
    public String text() {
        return switch (backend) {
            case FileBackend.KIND -> config.get("path").orElse("");
            case "lvm-thin" -> "lvm:" + config.get("vg").orElse("");
            default -> backend + ":" + config.configuration();
        };
    }
}
