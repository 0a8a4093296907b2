package org.thinsr.allocmap;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A parsed {@code thin_dump}: the superblock and the devices that were kept (all of them, or the one
 * asked for), in document order. Immutable.
 */
public final class ThinMetadata {
    private final ThinSuperblock superblock;
    private final List<ThinDevice> devices;
    private final List<Long> deviceIds;

    ThinMetadata(ThinSuperblock superblock, List<ThinDevice> devices, List<Long> deviceIds) {
        this.superblock = Objects.requireNonNull(superblock, "superblock");
        this.devices = List.copyOf(devices);
        this.deviceIds = List.copyOf(deviceIds);
    }

    public ThinSuperblock superblock() {
        return superblock;
    }

    /** The devices kept, in document order. */
    public List<ThinDevice> devices() {
        return devices;
    }

    /** The dev_id of every device in the dump, kept or not, in document order. */
    public List<Long> deviceIds() {
        return deviceIds;
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof ThinMetadata other
                && superblock.equals(other.superblock)
                && devices.equals(other.devices);
    }

    @Override
    public int hashCode() {
        return Objects.hash(superblock, devices);
    }

    @Override
    public String toString() {
        return "ThinMetadata[" + superblock + ", " + devices + "]";
    }

    public Optional<ThinDevice> findDevice(long devId) {
        for (ThinDevice device : devices) {
            if (device.devId() == devId) {
                return Optional.of(device);
            }
        }
        return Optional.empty();
    }

    /**
     * The device {@code devId}.
     *
     * @throws ThinsrException with {@link ErrorCode#THIN_DEVICE_NOT_FOUND} when the dump has none
     */
    public ThinDevice device(long devId) {
        return findDevice(devId)
                .orElseThrow(() -> new ThinsrException(
                        ErrorCode.THIN_DEVICE_NOT_FOUND,
                        "thin device " + devId + " is not in the metadata (devices: "
                                + devices.stream()
                                        .map(d -> Long.toString(d.devId()))
                                        .toList() + ")",
                        Long.toString(devId)));
    }
}
