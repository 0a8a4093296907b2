package org.thinsr.lifecycle;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One VDI in the SR metadata.
 *
 * @param uuid the VDI's uuid, its key everywhere (xapi's volume key)
 * @param kind template or disk
 * @param nameLabel free text, at most 4096 characters
 * @param description free text, at most 4096 characters
 * @param volume the backend volume name (disks only; {@code null} for templates)
 * @param uri the template's image URI (templates only; {@code null} for disks)
 * @param parentUri the external origin of a disk cloned from a template, else {@code null}
 * @param originFormat the image format of {@code uri} or {@code parentUri} ({@code raw}, {@code
 *     qcow2}, …), else {@code null}
 * @param virtualSizeBytes the size the guest sees
 * @param provisioning thin or preallocated (disks); {@code null} for templates
 * @param readOnly templates and snapshots
 * @param keys free keys including xapi's {@code vdi-type}, {@code content_id}, {@code
 *     is_a_snapshot}, {@code snapshot_of}, {@code snapshot_time}; at most 256, each key at most 256
 *     and each value at most 4096 characters; copied into sorted order
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VdiRecord(
        String uuid,
        VdiKind kind,
        String nameLabel,
        String description,
        String volume,
        String uri,
        String parentUri,
        String originFormat,
        long virtualSizeBytes,
        Provisioning provisioning,
        boolean readOnly,
        Map<String, String> keys) {
    public static final int MAX_TEXT = 4096;
    public static final int MAX_KEYS = 256;
    public static final int MAX_KEY_LENGTH = 256;

    public VdiRecord {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(kind, "kind");
        nameLabel = nameLabel == null ? "" : nameLabel;
        description = description == null ? "" : description;
        checkText("nameLabel", nameLabel);
        checkText("description", description);
        if (virtualSizeBytes < 0) {
            throw new IllegalArgumentException("virtualSizeBytes is negative: " + virtualSizeBytes);
        }
        switch (kind) {
            case TEMPLATE -> {
                if (uri == null || volume != null) {
                    throw new IllegalArgumentException("template " + uuid + " needs a uri and no volume");
                }
            }
            case DISK -> {
                if (volume == null || uri != null || provisioning == null) {
                    throw new IllegalArgumentException("disk " + uuid + " needs a volume and provisioning, and no uri");
                }
            }
        }
        keys = keys == null ? Map.of() : keys;
        if (keys.size() > MAX_KEYS) {
            throw new IllegalArgumentException("VDI " + uuid + " has " + keys.size() + " keys, at most " + MAX_KEYS);
        }
        TreeMap<String, String> sorted = new TreeMap<>();
        keys.forEach((key, value) -> {
            if (key == null || key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
                throw new IllegalArgumentException("key length outside [1, " + MAX_KEY_LENGTH + "]");
            }
            checkText("value of key " + key, Objects.requireNonNull(value, "value of key " + key));
            sorted.put(key, value);
        });
        keys = java.util.Collections.unmodifiableMap(sorted);
    }

    private static void checkText(String what, String text) {
        if (text.length() > MAX_TEXT) {
            throw new IllegalArgumentException(what + " has " + text.length() + " characters, at most " + MAX_TEXT);
        }
    }

    public boolean isTemplate() {
        return kind == VdiKind.TEMPLATE;
    }

    public VdiRecord withNameLabel(String newNameLabel) {
        return new VdiRecord(
                uuid,
                kind,
                newNameLabel,
                description,
                volume,
                uri,
                parentUri,
                originFormat,
                virtualSizeBytes,
                provisioning,
                readOnly,
                keys);
    }

    public VdiRecord withDescription(String newDescription) {
        return new VdiRecord(
                uuid,
                kind,
                nameLabel,
                newDescription,
                volume,
                uri,
                parentUri,
                originFormat,
                virtualSizeBytes,
                provisioning,
                readOnly,
                keys);
    }

    public VdiRecord withVirtualSize(long newVirtualSizeBytes) {
        return new VdiRecord(
                uuid,
                kind,
                nameLabel,
                description,
                volume,
                uri,
                parentUri,
                originFormat,
                newVirtualSizeBytes,
                provisioning,
                readOnly,
                keys);
    }

    public VdiRecord withKeys(Map<String, String> newKeys) {
        return new VdiRecord(
                uuid,
                kind,
                nameLabel,
                description,
                volume,
                uri,
                parentUri,
                originFormat,
                virtualSizeBytes,
                provisioning,
                readOnly,
                newKeys);
    }
}
