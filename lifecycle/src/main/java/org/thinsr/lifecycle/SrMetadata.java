package org.thinsr.lifecycle;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Everything thinsr knows about one SR beyond what its backend stores: persisted as JSON in the
 * SR's {@link MetadataArea} by {@code SrMetadataStore}.
 *
 * @param formatVersion the JSON format version, {@link #FORMAT_VERSION}
 * @param uuid the SR's uuid
 * @param nameLabel free text
 * @param description free text
 * @param backend {@link StorageBackend#kind()}
 * @param configuration the SR's configuration ({@link SrInfo#configuration()})
 * @param vdis every VDI by uuid, at most {@link #MAX_VDIS}; copied into sorted order
 */
public record SrMetadata(
        int formatVersion,
        String uuid,
        String nameLabel,
        String description,
        String backend,
        Map<String, String> configuration,
        Map<String, VdiRecord> vdis) {
    public static final int FORMAT_VERSION = 1;
    public static final int MAX_VDIS = 100_000;

    public SrMetadata {
        if (formatVersion != FORMAT_VERSION) {
            throw new IllegalArgumentException(
                    "metadata format version: actual " + formatVersion + " != expected " + FORMAT_VERSION);
        }
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(backend, "backend");
        nameLabel = nameLabel == null ? "" : nameLabel;
        description = description == null ? "" : description;
        configuration = configuration == null ? Map.of() : Map.copyOf(configuration);
        vdis = vdis == null ? Map.of() : vdis;
        if (vdis.size() > MAX_VDIS) {
            throw new IllegalArgumentException("SR has " + vdis.size() + " VDIs, at most " + MAX_VDIS);
        }
        TreeMap<String, VdiRecord> sorted = new TreeMap<>();
        vdis.forEach((key, vdi) -> {
            if (!key.equals(vdi.uuid())) {
                throw new IllegalArgumentException("VDI key " + key + " != its uuid " + vdi.uuid());
            }
            sorted.put(key, vdi);
        });
        vdis = Collections.unmodifiableMap(sorted);
    }

    public static SrMetadata empty(String uuid, String nameLabel, String description, SrInfo sr) {
        return new SrMetadata(FORMAT_VERSION, uuid, nameLabel, description, sr.backend(), sr.configuration(), Map.of());
    }

    /** A copy with {@code vdi} added or replaced. */
    public SrMetadata withVdi(VdiRecord vdi) {
        TreeMap<String, VdiRecord> copy = new TreeMap<>(vdis);
        copy.put(vdi.uuid(), vdi);
        return new SrMetadata(formatVersion, uuid, nameLabel, description, backend, configuration, copy);
    }

    /** A copy without the VDI {@code vdiUuid} (unchanged if absent). */
    public SrMetadata withoutVdi(String vdiUuid) {
        TreeMap<String, VdiRecord> copy = new TreeMap<>(vdis);
        copy.remove(vdiUuid);
        return new SrMetadata(formatVersion, uuid, nameLabel, description, backend, configuration, copy);
    }

    public SrMetadata withNameLabel(String newNameLabel) {
        return new SrMetadata(formatVersion, uuid, newNameLabel, description, backend, configuration, vdis);
    }

    public SrMetadata withDescription(String newDescription) {
        return new SrMetadata(formatVersion, uuid, nameLabel, newDescription, backend, configuration, vdis);
    }
}
