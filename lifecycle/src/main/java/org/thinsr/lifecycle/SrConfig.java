package org.thinsr.lifecycle;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a user or xapi says about SR storage ({@code device-config}): the location plus
 * backend-specific keys.
 *
 * <p>Keys used by the backends: file — {@code path} (the directory); lvm-thin — {@code device}
 * (comma-separated block devices for a new VG, "own the world"), {@code vg} (an existing VG, "be
 * nice"), {@code pool-size} (bytes, be-nice mode only), {@code mode} ({@code own-the-world} or
 * {@code be-nice}). Unknown keys are kept and ignored.
 *
 * @param configuration keys and values, neither blank; copied
 */
public record SrConfig(Map<String, String> configuration) {
    public SrConfig {
        Objects.requireNonNull(configuration, "configuration");
        configuration.forEach((key, value) -> {
            if (key == null || key.isBlank()) {
                throw new IllegalArgumentException("configuration key is blank");
            }
            if (value == null) {
                throw new IllegalArgumentException("configuration value of '" + key + "' is null");
            }
        });
        configuration = Map.copyOf(configuration);
    }

    public static SrConfig of(String key, String value) {
        return new SrConfig(Map.of(key, value));
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(configuration.get(key));
    }
}
