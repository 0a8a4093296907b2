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
 * @param pendingVolumes volume names of operations in flight (create, snapshot, clone, destroy),
 *     each with the operation's name: written before the backend is touched and removed in the same
 *     commit that records the result, so that recovery after a crash destroys what they left
 */
public record SrMetadata(
        int formatVersion,
        String uuid,
        String nameLabel,
        String description,
        String backend,
        Map<String, String> configuration,
        Map<String, VdiRecord> vdis,
        Map<String, String> pendingVolumes) {
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
        pendingVolumes = pendingVolumes == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(pendingVolumes));
    }

    public static SrMetadata empty(String uuid, String nameLabel, String description, SrInfo sr) {
        return new SrMetadata(
                FORMAT_VERSION, uuid, nameLabel, description, sr.backend(), sr.configuration(), Map.of(), Map.of());
    }

    /** A copy with {@code vdi} added or replaced. */
    public SrMetadata withVdi(VdiRecord vdi) {
        TreeMap<String, VdiRecord> copy = new TreeMap<>(vdis);
        copy.put(vdi.uuid(), vdi);
        return new SrMetadata(
                formatVersion, uuid, nameLabel, description, backend, configuration, copy, pendingVolumes);
    }

    /** A copy without the VDI {@code vdiUuid} (unchanged if absent). */
    public SrMetadata withoutVdi(String vdiUuid) {
        TreeMap<String, VdiRecord> copy = new TreeMap<>(vdis);
        copy.remove(vdiUuid);
        return new SrMetadata(
                formatVersion, uuid, nameLabel, description, backend, configuration, copy, pendingVolumes);
    }

    /** A copy with {@code volumeName} marked as in flight for {@code operation}. */
    public SrMetadata withPending(String volumeName, String operation) {
        TreeMap<String, String> copy = new TreeMap<>(pendingVolumes);
        copy.put(volumeName, operation);
        return new SrMetadata(formatVersion, uuid, nameLabel, description, backend, configuration, vdis, copy);
    }

    /** A copy without the in-flight mark of {@code volumeName}. */
    public SrMetadata withoutPending(String volumeName) {
        TreeMap<String, String> copy = new TreeMap<>(pendingVolumes);
        copy.remove(volumeName);
        return new SrMetadata(formatVersion, uuid, nameLabel, description, backend, configuration, vdis, copy);
    }

    /** The VDI {@code vdiUuid}, or {@code VDI_NOT_FOUND}. */
    public VdiRecord vdi(String vdiUuid) {
        VdiRecord vdi = vdis.get(vdiUuid);
        if (vdi == null) {
            throw new org.thinsr.allocmap.ThinsrException(
                    org.thinsr.allocmap.ErrorCode.VDI_NOT_FOUND, "no VDI " + vdiUuid + " in SR " + uuid, vdiUuid);
        }
        return vdi;
    }

    public SrMetadata withNameLabel(String newNameLabel) {
        return new SrMetadata(
                formatVersion, uuid, newNameLabel, description, backend, configuration, vdis, pendingVolumes);
    }

    public SrMetadata withDescription(String newDescription) {
        return new SrMetadata(
                formatVersion, uuid, nameLabel, newDescription, backend, configuration, vdis, pendingVolumes);
    }
}
