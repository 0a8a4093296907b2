package org.thinsr.lifecycle;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * thinsr's per-user state: {@code $XDG_DATA_HOME/thinsr} or {@code ~/.local/share/thinsr}. Holds
 * the default file SR ({@code default-sr/}) that commands use when no {@code --sr} is given, and
 * the registry of known SRs ({@code srs/UUID.json}, each written by rename so a reader never sees
 * half a file).
 */
public final class ThinsrHome {
    private static final Pattern UUID_PATTERN =
            Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final int MAX_ENTRY = 64 << 10;

    private final Path directory;

    public ThinsrHome(Path directory) {
        this.directory = directory.toAbsolutePath().normalize();
    }

    /** The home for {@code environment} ({@code XDG_DATA_HOME}, else {@code HOME}/.local/share). */
    public static ThinsrHome fromEnvironment(Map<String, String> environment) {
        String dataHome = environment.get("XDG_DATA_HOME");
        if (dataHome != null && !dataHome.isBlank() && Path.of(dataHome).isAbsolute()) {
            return new ThinsrHome(Path.of(dataHome, "thinsr"));
        }
        String home = environment.getOrDefault("HOME", System.getProperty("user.home"));
        return new ThinsrHome(Path.of(home, ".local", "share", "thinsr"));
    }

    public Path directory() {
        return directory;
    }

    /** The default SR's reference (a file SR in {@code default-sr/}); not created here. */
    public SrRef defaultSr() {
        return SrRef.file(directory.resolve("default-sr"));
    }

    /** A registry entry. */
    public record Entry(String uuid, String backend, Map<String, String> configuration) {}

    /** Records an SR as known to this host. */
    public void register(String uuid, SrRef ref) {
        requireUuid(uuid);
        Path srs = directory.resolve("srs");
        try {
            Files.createDirectories(srs);
            Path temp = srs.resolve("." + uuid + ".tmp");
            Files.write(
                    temp,
                    SrMetadataStore.JSON.writeValueAsBytes(new Entry(
                            uuid, ref.backend(), new TreeMap<>(ref.config().configuration()))));
            Files.move(
                    temp,
                    srs.resolve(uuid + ".json"),
                    StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw FileBackend.ioError("cannot register SR " + uuid + " in " + srs, e);
        }
    }

    /** Forgets an SR; idempotent. */
    public void unregister(String uuid) {
        requireUuid(uuid);
        try {
            Files.deleteIfExists(directory.resolve("srs").resolve(uuid + ".json"));
        } catch (IOException e) {
            throw FileBackend.ioError("cannot unregister SR " + uuid, e);
        }
    }

    /** Every registered SR, sorted by uuid; unreadable entries are skipped. */
    public List<Entry> registered() {
        List<Entry> entries = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory.resolve("srs"), "*.json")) {
            for (Path file : files) {
                if (Files.size(file) > MAX_ENTRY) {
                    continue;
                }
                try {
                    entries.add(
                            SrMetadataStore.JSON.readValue(Files.readAllBytes(file), new TypeReference<Entry>() {}));
                } catch (IOException e) {
                    // a foreign or damaged file: not an SR we know
                }
            }
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw FileBackend.ioError("cannot list registered SRs", e);
        }
        entries.sort((a, b) -> a.uuid().compareTo(b.uuid()));
        return entries;
    }

    private static void requireUuid(String uuid) {
        if (!UUID_PATTERN.matcher(uuid).matches()) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "not a uuid: " + VolumeNames.printable(uuid), uuid);
        }
    }
}
