package org.thinsr.lifecycle;

import java.util.Objects;

/**
 * Where an attached volume can be read and written.
 *
 * @param volumeName the attached volume
 * @param kind what {@code target} is
 * @param target a block device path ({@code /dev/mapper/…}, {@code /dev/VG/LV}), a file path, or an
 *     NBD URI ({@code nbd+unix:///EXPORT?socket=/path})
 * @param readOnly whether writes are refused
 */
public record Attachment(String volumeName, Kind kind, String target, boolean readOnly) {
    public Attachment {
        Objects.requireNonNull(volumeName, "volumeName");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(target, "target");
        if (target.isEmpty()) {
            throw new IllegalArgumentException("target is empty");
        }
    }

    /** The kinds of target, named as SMAPIv3 datapath implementations. */
    public enum Kind {
        BLOCK_DEVICE,
        FILE,
        NBD;

        /** The SMAPIv3 implementation name: {@code BlockDevice}, {@code File} or {@code Nbd}. */
        public String smapiName() {
            return switch (this) {
                case BLOCK_DEVICE -> "BlockDevice";
                case FILE -> "File";
                case NBD -> "Nbd";
            };
        }
    }
}
