package org.thinsr.lifecycle;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/**
 * A VDI as commands report it: its metadata record plus, for disks, the backend's figures and the
 * attachment if any. The JSON form of {@code vdi-list}, {@code vdi-stat} and friends.
 *
 * @param physicalUtilisationBytes bytes the volume occupies (0 for templates)
 * @param path the volume's file or device (disks), or {@code null}
 * @param attachment where the VDI is attached, or {@code null}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VdiView(
        String uuid,
        String kind,
        String nameLabel,
        String description,
        String volume,
        String uri,
        String parentUri,
        String originFormat,
        long virtualSizeBytes,
        long physicalUtilisationBytes,
        String provisioning,
        boolean readOnly,
        Map<String, String> keys,
        String path,
        Attachment attachment) {

    static VdiView of(VdiRecord vdi, VolumeInfo volume, Attachment attachment) {
        return new VdiView(
                vdi.uuid(),
                vdi.kind().label(),
                vdi.nameLabel(),
                vdi.description(),
                vdi.volume(),
                vdi.uri(),
                vdi.parentUri(),
                vdi.originFormat(),
                volume == null ? vdi.virtualSizeBytes() : volume.virtualSizeBytes(),
                volume == null ? 0 : volume.physicalUtilisationBytes(),
                vdi.provisioning() == null ? null : vdi.provisioning().label(),
                vdi.readOnly(),
                vdi.keys(),
                volume == null ? null : volume.path(),
                attachment);
    }
}
