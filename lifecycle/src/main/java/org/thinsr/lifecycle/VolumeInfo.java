package org.thinsr.lifecycle;

import java.util.Objects;

/**
 * A volume as its backend sees it.
 *
 * @param name the volume name (file stem or LV name)
 * @param virtualSizeBytes the size the guest sees, &gt; 0
 * @param physicalUtilisationBytes bytes the volume itself occupies (not its shared bases or origin)
 * @param provisioning thin or preallocated
 * @param readOnly true for snapshots
 * @param hasOrigin whether reads fall through to an external origin
 * @param path where the volume lives when not attached: the qcow2/raw file or {@code /dev/VG/LV}
 *     (the device node exists only while active)
 */
public record VolumeInfo(
        String name,
        long virtualSizeBytes,
        long physicalUtilisationBytes,
        Provisioning provisioning,
        boolean readOnly,
        boolean hasOrigin,
        String path) {
    public VolumeInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(provisioning, "provisioning");
        Objects.requireNonNull(path, "path");
        if (virtualSizeBytes < 0) {
            throw new IllegalArgumentException("virtualSizeBytes is negative: " + virtualSizeBytes);
        }
        if (physicalUtilisationBytes < 0) {
            throw new IllegalArgumentException("physicalUtilisationBytes is negative: " + physicalUtilisationBytes);
        }
    }
}
