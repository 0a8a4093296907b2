package org.thinsr.vhdstream;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * How a VHD is written.
 *
 * <p>The creator application decides how qemu sizes the disk. qemu's {@code vpc} driver takes the
 * size from the CHS geometry (rounded down, at most ~127 GiB) for the creator applications {@code
 * "vpc "} and {@code "qemu"} (and, up to qemu 9.1, for every application it does not know), and from
 * {@code Current Size} for {@code "win "} (Hyper-V), {@code "qem2"} (qemu-img with {@code
 * force_size=on}), {@code "d2v "}, {@code "CTXS"}, {@code "tap\0"} (blktap) and, since 9.2, any
 * other. thinsr writes the exact size into {@code Current Size}, so the default is {@code "qem2"},
 * which every qemu since 2.6 and every Microsoft reader size exactly. ({@code "tap\0"} would also do
 * for qemu but makes blktap look for a batmap.)
 *
 * @param diskType fixed, dynamic or differencing
 * @param skipZeroBlocks whether a dynamic export reads every 2 MiB block the allocation map calls
 *     data once before streaming and leaves out those that read as all zeros (a second read of the
 *     data, see {@link VhdLayout#plan(org.thinsr.allocmap.AllocationMap, VhdOptions,
 *     org.thinsr.allocmap.BlockSource)}); ignored for fixed and differencing disks
 * @param uniqueId the footer's {@code Unique Id}
 * @param timestamp the footer's {@code Time Stamp}
 * @param creatorApplication four ISO-8859-1 characters
 * @param parent the parent of a differencing disk; {@code null} for fixed and dynamic disks
 */
public record VhdOptions(
        VhdDiskType diskType,
        boolean skipZeroBlocks,
        UUID uniqueId,
        Instant timestamp,
        String creatorApplication,
        VhdParent parent) {
    /** The default creator application: qemu trusts {@code Current Size} for it. */
    public static final String DEFAULT_CREATOR_APPLICATION = "qem2";

    /** The footer's creator version: thinsr 1.0. */
    static final int CREATOR_VERSION = 0x00010000;

    /** The footer's creator host OS: "Wi2k", the spec's code for Windows (what qemu writes too). */
    static final String CREATOR_HOST_OS = "Wi2k";

    public VhdOptions {
        Objects.requireNonNull(diskType, "diskType");
        Objects.requireNonNull(uniqueId, "uniqueId");
        Objects.requireNonNull(timestamp, "timestamp");
        Objects.requireNonNull(creatorApplication, "creatorApplication");
        if (creatorApplication.length() != 4 || !creatorApplication.chars().allMatch(c -> c <= 0xFF)) {
            throw new IllegalArgumentException(
                    "creator application must be 4 ISO-8859-1 characters: " + creatorApplication);
        }
        if ((diskType == VhdDiskType.DIFFERENCING) != (parent != null)) {
            throw new IllegalArgumentException("a parent is required for, and only for, a differencing disk");
        }
    }

    /** A dynamic disk with zero-block skipping, a random unique id and the given time stamp. */
    public static VhdOptions dynamic(Instant timestamp) {
        return new VhdOptions(
                VhdDiskType.DYNAMIC, true, UUID.randomUUID(), timestamp, DEFAULT_CREATOR_APPLICATION, null);
    }

    /** A fixed disk with a random unique id and the given time stamp. */
    public static VhdOptions fixed(Instant timestamp) {
        return new VhdOptions(
                VhdDiskType.FIXED, false, UUID.randomUUID(), timestamp, DEFAULT_CREATOR_APPLICATION, null);
    }

    /** A differencing disk over {@code parent}, with a random unique id and the given time stamp. */
    public static VhdOptions differencing(VhdParent parent, Instant timestamp) {
        return new VhdOptions(
                VhdDiskType.DIFFERENCING,
                false,
                UUID.randomUUID(),
                timestamp,
                DEFAULT_CREATOR_APPLICATION,
                Objects.requireNonNull(parent, "parent"));
    }

    public VhdOptions withSkipZeroBlocks(boolean skip) {
        return new VhdOptions(diskType, skip, uniqueId, timestamp, creatorApplication, parent);
    }

    public VhdOptions withUniqueId(UUID id) {
        return new VhdOptions(diskType, skipZeroBlocks, id, timestamp, creatorApplication, parent);
    }

    public VhdOptions withCreatorApplication(String application) {
        return new VhdOptions(diskType, skipZeroBlocks, uniqueId, timestamp, application, parent);
    }
}
