package org.thinsr.cli;

import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.LifecycleJson;
import org.thinsr.lifecycle.Lifecycles;
import org.thinsr.lifecycle.SrRef;
import picocli.CommandLine.Option;

/**
 * The options every SR/VDI command shares: {@code --sr}, {@code --scheme-dir}, {@code --json}; and
 * the one place that builds the {@link Lifecycle} from the environment.
 */
final class LifecycleOptions {
    @Option(
            names = "--sr",
            paramLabel = "SR",
            description = "The SR: a directory (file SR), file:DIR, or lvm:VG. Default: the default file SR under"
                    + " $XDG_DATA_HOME/thinsr/default-sr (~/.local/share/thinsr/default-sr), created on first use.")
    String sr;

    @Option(
            names = "--scheme-dir",
            paramLabel = "DIR",
            description = "A directory of URI scheme scripts, searched before $THINSR_SCHEME_DIR,"
                    + " /usr/libexec/xapi/storage and thinsr's own schemes (repeatable).")
    List<Path> schemeDirectories = new ArrayList<>();

    @Option(names = "--json", description = "Print machine-readable JSON instead of text.")
    boolean json;

    private static final Pattern UUID_SHAPE =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    Optional<SrRef> srRef() {
        return Optional.ofNullable(sr).map(SrRef::parse);
    }

    /**
     * The uuid a VDI argument names: a uuid as given (so that idempotent commands such as
     * vdi-destroy stay idempotent), else the uuid of the one VDI with that exact name label (a disk
     * over its snapshots, which keep the label); {@code VDI_NOT_FOUND} or {@code INVALID_ARGUMENT}
     * (ambiguous) otherwise.
     */
    String vdiUuid(Lifecycle lifecycle, String uuidOrLabel) {
        if (UUID_SHAPE.matcher(uuidOrLabel).matches()) {
            return uuidOrLabel;
        }
        return lifecycle.vdiResolve(srRef(), uuidOrLabel, "\0").uuid();
    }

    Lifecycle lifecycle() {
        bundledSchemes().ifPresent(dir -> {
            if (System.getProperty("thinsr.schemes.dir") == null) {
                System.setProperty("thinsr.schemes.dir", dir.toString());
            }
        });
        return Lifecycles.standard(System.getenv(), schemeDirectories);
    }

    /** {@code lifecycle/schemes} of the checkout the running jar was built in, if any. */
    static Optional<Path> bundledSchemes() {
        try {
            Path jar = Path.of(LifecycleOptions.class
                    .getProtectionDomain()
                    .getCodeSource()
                    .getLocation()
                    .toURI());
            for (Path dir = jar.getParent(); dir != null; dir = dir.getParent()) {
                Path schemes = dir.resolve("lifecycle").resolve("schemes");
                if (Files.isDirectory(schemes)) {
                    return Optional.of(schemes);
                }
            }
        } catch (URISyntaxException | RuntimeException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    static void printJson(PrintWriter out, Object value) {
        out.println(LifecycleJson.toJson(value));
        out.flush();
    }
}
