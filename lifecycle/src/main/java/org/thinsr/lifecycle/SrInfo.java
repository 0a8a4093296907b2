package org.thinsr.lifecycle;

import java.util.Map;
import java.util.Objects;

/**
 * SR storage as a backend found or made it.
 *
 * @param backend {@link StorageBackend#kind()} of the backend that owns it
 * @param location where it is: the directory (file) or the VG name (lvm-thin)
 * @param configuration the full configuration to introduce it again (xapi's new {@code
 *     device-config}); copied
 */
public record SrInfo(String backend, String location, Map<String, String> configuration) {
    public SrInfo {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(location, "location");
        if (location.isEmpty()) {
            throw new IllegalArgumentException("location is empty");
        }
        configuration = Map.copyOf(configuration);
    }

    public SrConfig config() {
        return new SrConfig(configuration);
    }
}
