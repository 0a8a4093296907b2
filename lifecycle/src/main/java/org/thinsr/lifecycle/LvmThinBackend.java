package org.thinsr.lifecycle;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinDelta;
import org.thinsr.allocmap.ThinDevice;
import org.thinsr.allocmap.ThinDumpParser;
import org.thinsr.allocmap.ThinMetadata;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.LvmReport.LogicalVolume;
import org.thinsr.lifecycle.LvmReport.VolumeGroup;

/**
 * The lvm-thin backend: an SR is an LVM volume group with a dm-thin pool; a thin volume is a thin
 * LV, a preallocated volume a regular LV written with zeros, a snapshot or clone a thin snapshot.
 * Runs lvm2, dmsetup, thin-provisioning-tools, losetup and qemu-nbd through {@link
 * LvmCommandRunner}; needs root and a kernel with device-mapper ({@code dm-thin-pool}).
 *
 * <h2>What thinsr owns</h2>
 *
 * Every LV thinsr creates carries the LVM tag {@value #TAG}; thinsr lists, changes and removes
 * tagged LVs only, so LVs of other users in the same VG are never touched. Reserved LVs: the pool
 * {@value #POOL_NAME} and the metadata LV {@value #METADATA_NAME} (a 4 MiB regular LV, the SR's
 * {@link MetadataArea}, whose presence marks the VG as a thinsr SR).
 *
 * <h2>Modes ({@link SrConfig} keys)</h2>
 *
 * <ul>
 *   <li><b>own-the-world</b> ({@code device=/dev/sdb[,/dev/sdc...]}, optional {@code vg}): {@link
 *       #createSr} runs pvcreate and vgcreate. The pool is kept only as big as needed: it starts at
 *       the headroom (default {@value #DEFAULT_HEADROOM_MIB} MiB or 5% of the VG, whichever is
 *       larger) and, at every allocating operation (thin create, snapshot, clone, resize, writable
 *       attach), is grown with lvextend so that at least the headroom stays free, as far as the VG
 *       has free extents. dm-thin pools cannot shrink, so keeping the pool small is what leaves VG
 *       space for preallocated (regular) LVs. Growth between thinsr operations (a guest writing a
 *       lot) is lvm's own job: on hosts with dmeventd set {@code
 *       activation/thin_pool_autoextend_threshold}. {@link #destroySr} removes the VG and the PVs'
 *       labels.
 *   <li><b>be-nice</b> ({@code vg=existing}, optional {@code pool-size} in bytes, or {@code
 *       pool=existing-thin-pool}): registers an existing VG. thinsr makes its metadata LV and, unless
 *       given an existing pool, a pool of the user's size (default: the smaller of 1 GiB and half
 *       the VG's free space) that is never grown. {@link #destroySr} removes tagged LVs only.
 * </ul>
 *
 * <h2>External origins</h2>
 *
 * A volume made with an {@link Origin} is a thin LV that lvm allocated (so lvm keeps the device id,
 * size, space accounting and removal) but that lvm never activates: it has the activation-skip flag
 * and the tag {@code thinsr_origin:<format>:<size>:<hex location>}. {@link #attach} exposes the
 * origin as a read-only block device (a raw file through {@code losetup --read-only}, other formats
 * and NBD URIs through {@code qemu-nbd --connect=/dev/nbdN --read-only}, a block device as it is)
 * and loads a {@code thin} table naming it as the external origin under the device-mapper name
 * {@code thinsr_ext-<VG>-<LV>}; {@link #detach} reverses both. Snapshots copy the tag.
 *
 * <p>Thread safety: calls on one SR must be serialised by the caller (the SR lock); see {@link
 * StorageBackend}.
 */
public final class LvmThinBackend implements StorageBackend {
    static final String TAG = "thinsr";
    static final String SNAPSHOT_TAG = "thinsr_snapshot";
    static final String OWNED_VG_TAG = "thinsr_owned";
    static final String ORIGIN_TAG_PREFIX = "thinsr_origin:";
    static final String POOL_NAME = "thinsr_pool";
    static final String METADATA_NAME = "thinsr_meta";
    static final String EXTERNAL_DM_PREFIX = "thinsr_ext-";
    static final long METADATA_SIZE_BYTES = 4L << 20;
    static final long DEFAULT_HEADROOM_MIB = 256;
    static final String CHUNK_SIZE = "64k";

    private static final long MIB = 1L << 20;
    private static final String MODE_OWN = "own-the-world";
    private static final String MODE_NICE = "be-nice";
    private static final Pattern VOLUME_NAME = Pattern.compile("[A-Za-z0-9+_][A-Za-z0-9+_.-]{0,63}");
    private static final Pattern VG_NAME = Pattern.compile("[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,63}");
    private static final List<String> LVM_RESERVED_PARTS = List.of(
            "_cdata",
            "_cmeta",
            "_corig",
            "_cpool",
            "_cvol",
            "_mimage",
            "_mlog",
            "_pmspare",
            "_rimage",
            "_rmeta",
            "_tdata",
            "_tmeta",
            "_vdata",
            "_vorigin",
            "_wcorig");
    private static final int ZERO_CHUNK_BYTES = 8 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final CachingRunner runner;
    private final Path lockDirectory;
    private final long minimumHeadroomBytes;

    /** The backend on this host: real commands (120 s timeout each), locks under /run/lock/thinsr. */
    public LvmThinBackend() {
        this(new LvmProcessRunner(Duration.ofMinutes(2)), Path.of("/run/lock/thinsr"), DEFAULT_HEADROOM_MIB * MIB);
    }

    LvmThinBackend(LvmCommandRunner runner, Path lockDirectory, long minimumHeadroomBytes) {
        this.runner = new CachingRunner(runner);
        this.lockDirectory = lockDirectory;
        if (minimumHeadroomBytes < MIB) {
            throw new IllegalArgumentException("headroom below 1 MiB: " + minimumHeadroomBytes);
        }
        this.minimumHeadroomBytes = minimumHeadroomBytes;
    }

    @Override
    public String kind() {
        return "lvm-thin";
    }

    // ---- SR storage ---------------------------------------------------------------------------

    @Override
    public SrInfo createSr(SrConfig config) {
        runner.forget();
        SrInfo sr = describe(config);
        String vg = sr.location();
        Optional<VolumeGroup> existing = volumeGroup(vg);
        if (sr.configuration().get("mode").equals(MODE_OWN)) {
            if (existing.isPresent()) {
                throw new ThinsrException(ErrorCode.SR_EXISTS, "volume group " + vg + " already exists", vg);
            }
            List<String> devices = devices(sr);
            List<String> pvcreate = new ArrayList<>(List.of("pvcreate", "-q"));
            pvcreate.addAll(devices);
            runner.run(pvcreate);
            try {
                List<String> vgcreate = new ArrayList<>(List.of("vgcreate", "-q", "--addtag", OWNED_VG_TAG, vg));
                vgcreate.addAll(devices);
                runner.run(vgcreate);
                createMetadataVolume(vg);
                VolumeGroup group = requireVolumeGroup(vg);
                long poolSize =
                        roundUp(Math.min(headroom(group), group.freeBytes() - 64 * MIB), group.extentSizeBytes());
                if (poolSize < group.extentSizeBytes()) {
                    throw new ThinsrException(
                            ErrorCode.NO_SPACE, "devices " + devices + " are too small for a thin pool");
                }
                createPool(vg, poolSize);
            } catch (RuntimeException e) {
                cleanUpFailedCreate(vg, devices, e);
                throw e;
            }
        } else {
            VolumeGroup group = existing.orElseThrow(() -> new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "be-nice mode needs an existing volume group; " + vg + " does not exist",
                    vg));
            if (findLogicalVolume(vg, METADATA_NAME).isPresent()) {
                throw new ThinsrException(ErrorCode.SR_EXISTS, "volume group " + vg + " already holds a thinsr SR", vg);
            }
            String pool = sr.configuration().get("pool");
            if (!pool.equals(POOL_NAME)) {
                LogicalVolume userPool = findLogicalVolume(vg, pool)
                        .filter(LogicalVolume::isThinPool)
                        .orElseThrow(() -> new ThinsrException(
                                ErrorCode.INVALID_ARGUMENT, "pool=" + pool + " is not a thin pool in " + vg, pool));
                if (userPool.tags().contains(TAG)) {
                    throw new ThinsrException(ErrorCode.SR_EXISTS, "pool " + pool + " already belongs to thinsr", pool);
                }
            } else if (findLogicalVolume(vg, POOL_NAME).isPresent()) {
                throw new ThinsrException(ErrorCode.SR_EXISTS, vg + "/" + POOL_NAME + " already exists", vg);
            }
            long poolSize = 0;
            if (pool.equals(POOL_NAME)) {
                poolSize = config.get("pool-size")
                        .map(value -> parseSize("pool-size", value))
                        .orElse(Math.min(1024 * MIB, group.freeBytes() / 2));
                poolSize = roundUp(poolSize, group.extentSizeBytes());
                if (poolSize + METADATA_SIZE_BYTES + 64 * MIB > group.freeBytes()) {
                    throw new ThinsrException(
                            ErrorCode.NO_SPACE,
                            "volume group " + vg + " has " + group.freeBytes() + " bytes free; a pool of " + poolSize
                                    + " bytes plus thinsr's metadata does not fit");
                }
            }
            createMetadataVolume(vg);
            try {
                if (pool.equals(POOL_NAME)) {
                    createPool(vg, poolSize);
                }
            } catch (RuntimeException e) {
                runQuietly(List.of("lvremove", "-q", "-f", vg + "/" + METADATA_NAME), e);
                throw e;
            }
        }
        return sr;
    }

    private void createMetadataVolume(String vg) {
        runner.run(List.of(
                "lvcreate", "-q", "-y", "--addtag", TAG, "-L", METADATA_SIZE_BYTES + "b", "-n", METADATA_NAME, vg));
        // lvcreate zeroes only the first 4 KiB; the area must read as zeros throughout
        writeZeros(devicePath(vg, METADATA_NAME), 0, METADATA_SIZE_BYTES, Progress.NONE);
    }

    private void createPool(String vg, long sizeBytes) {
        runner.run(List.of(
                "lvcreate",
                "-q",
                "--type",
                "thin-pool",
                "-L",
                sizeBytes + "b",
                "--chunksize",
                CHUNK_SIZE,
                "--zero",
                "y",
                "--addtag",
                TAG,
                "-n",
                POOL_NAME,
                vg));
    }

    private void cleanUpFailedCreate(String vg, List<String> devices, RuntimeException failure) {
        runQuietly(List.of("vgremove", "-q", "-f", vg), failure);
        List<String> pvremove = new ArrayList<>(List.of("pvremove", "-q", "-f"));
        pvremove.addAll(devices);
        runQuietly(pvremove, failure);
    }

    private void runQuietly(List<String> command, RuntimeException failure) {
        try {
            runner.run(command);
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** The SR a configuration names, with every default filled in (the same for create and introduce). */
    private static SrInfo describe(SrConfig config) {
        Map<String, String> settings = new LinkedHashMap<>(config.configuration());
        Optional<String> device = config.get("device");
        String mode = config.get("mode").orElse(device.isPresent() ? MODE_OWN : MODE_NICE);
        if (!mode.equals(MODE_OWN) && !mode.equals(MODE_NICE)) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "mode: actual '" + mode + "', expected own-the-world or be-nice");
        }
        String vg;
        if (mode.equals(MODE_OWN)) {
            String devices = device.orElseThrow(() -> new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "own-the-world mode needs device=/dev/... (comma-separated)"));
            String first = devices.split(",", -1)[0];
            vg = config.get("vg")
                    .orElse("thinsr_" + Path.of(first).getFileName().toString().replaceAll("[^A-Za-z0-9+_.-]", "_"));
            if (!config.get("pool").orElse(POOL_NAME).equals(POOL_NAME)
                    || config.get("pool-size").isPresent()) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "pool and pool-size are be-nice settings; own-the-world sizes its pool itself");
            }
        } else {
            vg = config.get("vg")
                    .orElseThrow(() -> new ThinsrException(
                            ErrorCode.INVALID_ARGUMENT, "be-nice mode needs vg=<existing volume group>"));
        }
        if (!VG_NAME.matcher(vg).matches() || vg.startsWith("-")) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "vg: actual '" + vg + "', expected an LVM VG name");
        }
        String pool = config.get("pool").orElse(POOL_NAME);
        if (!VOLUME_NAME.matcher(pool).matches()) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "pool: actual '" + pool + "', expected an LV name");
        }
        settings.put("mode", mode);
        settings.put("vg", vg);
        settings.put("pool", pool);
        return new SrInfo("lvm-thin", vg, settings);
    }

    private static List<String> devices(SrInfo sr) {
        List<String> devices = new ArrayList<>();
        for (String device : sr.configuration().getOrDefault("device", "").split(",", -1)) {
            if (!device.startsWith("/dev/") || device.contains("..") || device.length() > 200) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT, "device: actual '" + device + "', expected a path under /dev/");
            }
            devices.add(device);
        }
        return devices;
    }

    @Override
    public SrInfo introduceSr(SrConfig config) {
        runner.forget();
        SrInfo sr = describe(config);
        requireSr(sr);
        activatePool(sr);
        return sr;
    }

    @Override
    public void forgetSr(SrInfo sr) {
        runner.forget();
        String vg = sr.location();
        if (volumeGroup(vg).isEmpty()) {
            return;
        }
        detachAll(sr);
        List<String> deactivate = new ArrayList<>(List.of("lvchange", "-q", "-an"));
        for (LogicalVolume lv : logicalVolumes(vg)) {
            if (lv.tags().contains(TAG) && lv.isActive() && !lv.isThinPool()) {
                deactivate.add(vg + "/" + lv.name());
            }
        }
        if (deactivate.size() > 3) {
            runner.run(deactivate);
        }
        if (pool(sr).equals(POOL_NAME)) {
            runner.run(List.of("lvchange", "-q", "-an", vg + "/" + POOL_NAME));
        }
    }

    @Override
    public void destroySr(SrInfo sr) {
        runner.forget();
        String vg = sr.location();
        Optional<VolumeGroup> group = volumeGroup(vg);
        if (group.isEmpty()) {
            return;
        }
        detachAll(sr);
        if (sr.configuration().get("mode").equals(MODE_OWN)
                && group.get().tags().contains(OWNED_VG_TAG)) {
            List<String> physicalVolumes = physicalVolumes(vg);
            runner.run(List.of("vgremove", "-q", "-f", vg));
            if (!physicalVolumes.isEmpty()) {
                List<String> pvremove = new ArrayList<>(List.of("pvremove", "-q"));
                pvremove.addAll(physicalVolumes);
                runner.run(pvremove);
            }
            return;
        }
        // be-nice: tagged thin volumes, then thinsr's pool, then the metadata LV; nothing else
        List<String> thin = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (LogicalVolume lv : logicalVolumes(vg)) {
            if (!lv.tags().contains(TAG)) {
                continue;
            }
            (lv.isThinPool() || lv.name().equals(METADATA_NAME) ? rest : thin).add(vg + "/" + lv.name());
        }
        for (List<String> batch : List.of(thin, rest)) {
            if (!batch.isEmpty()) {
                List<String> lvremove = new ArrayList<>(List.of("lvremove", "-q", "-f"));
                lvremove.addAll(batch);
                runner.run(lvremove);
            }
        }
    }

    private List<String> physicalVolumes(String vg) {
        String json = runner.run(
                List.of("pvs", "--reportformat", "json", "-o", "pv_name,vg_name", "--select", "vg_name=" + vg));
        List<String> names = new ArrayList<>();
        try {
            JsonNode report = JSON.readTree(json).path("report");
            for (JsonNode section : report) {
                for (JsonNode row : section.path("pv")) {
                    String name = row.path("pv_name").asText("");
                    if (name.startsWith("/dev/")
                            && row.path("vg_name").asText("").equals(vg)) {
                        names.add(name);
                    }
                }
            }
        } catch (JacksonException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, "pvs report is not JSON: " + e.getOriginalMessage());
        }
        return names;
    }

    @Override
    public SrStat statSr(SrInfo sr) {
        runner.forget();
        VolumeGroup group = requireSr(sr);
        LogicalVolume pool = requirePool(sr);
        long poolUsed = usedBytes(pool);
        long physical = poolUsed;
        long virtual = 0;
        for (LogicalVolume lv : ownVolumes(sr)) {
            virtual += lv.sizeBytes();
            if (!lv.isThinVolume()) {
                physical += lv.sizeBytes();
            }
        }
        long free = Math.min(group.sizeBytes(), pool.sizeBytes() - poolUsed + group.freeBytes());
        return new SrStat(group.sizeBytes(), Math.max(0, free), physical, virtual);
    }

    @Override
    public long blockSizeBytes(SrInfo sr) {
        runner.forget();
        long chunk = requirePool(sr).chunkSizeBytes();
        if (chunk < 512 || Long.bitCount(chunk) != 1) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED, "thin pool chunk size " + chunk + " is not a power of two");
        }
        return chunk;
    }

    @Override
    public MetadataArea openMetadata(SrInfo sr) throws IOException {
        runner.forget();
        requireSr(sr);
        LogicalVolume metadata = findLogicalVolume(sr.location(), METADATA_NAME)
                .filter(lv -> lv.tags().contains(TAG))
                .orElseThrow(() -> srNotFound(sr));
        if (!metadata.isActive()) {
            runner.run(List.of("lvchange", "-q", "-ay", sr.location() + "/" + METADATA_NAME));
        }
        return FileChannelMetadataArea.open(devicePath(sr.location(), METADATA_NAME), metadata.sizeBytes());
    }

    @Override
    public Path lockFile(SrInfo sr) {
        runner.forget();
        try {
            Files.createDirectories(lockDirectory);
        } catch (IOException e) {
            throw new ThinsrException(
                    ErrorCode.IO_ERROR, "cannot create the lock directory " + lockDirectory + ": " + e, e);
        }
        return lockDirectory.resolve("lvm-" + sr.location() + ".lock");
    }

    // ---- volumes ------------------------------------------------------------------------------

    @Override
    public VolumeInfo createVolume(
            SrInfo sr,
            String volumeName,
            long virtualSizeBytes,
            Provisioning provisioning,
            Optional<Origin> origin,
            Progress progress) {
        runner.forget();
        checkName(volumeName);
        if (virtualSizeBytes <= 0) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "virtual size is not positive: " + virtualSizeBytes);
        }
        if (provisioning == Provisioning.PREALLOCATED && origin.isPresent()) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "a preallocated volume cannot have an origin");
        }
        VolumeGroup group = requireSr(sr);
        String vg = sr.location();
        if (findLogicalVolume(vg, volumeName).isPresent()) {
            throw new ThinsrException(
                    ErrorCode.VDI_EXISTS, "an LV named " + vg + "/" + volumeName + " exists", volumeName);
        }
        long size = roundUp(virtualSizeBytes, group.extentSizeBytes());
        switch (provisioning) {
            case THIN -> {
                ensurePoolHeadroom(sr, 0);
                List<String> lvcreate = new ArrayList<>(List.of(
                        "lvcreate",
                        "-q",
                        "--type",
                        "thin",
                        "-V",
                        size + "b",
                        "--thinpool",
                        pool(sr),
                        "-n",
                        volumeName,
                        "--addtag",
                        TAG,
                        "-an",
                        "-ky"));
                origin.ifPresent(o -> lvcreate.addAll(List.of("--addtag", originTag(o))));
                lvcreate.add(vg);
                runner.run(lvcreate);
            }
            case PREALLOCATED -> createPreallocated(sr, group, volumeName, size, progress);
        }
        return statVolume(sr, volumeName);
    }

    private void createPreallocated(SrInfo sr, VolumeGroup group, String volumeName, long size, Progress progress) {
        String vg = sr.location();
        if (size > group.freeBytes()) {
            throw new ThinsrException(
                    ErrorCode.NO_SPACE,
                    "volume group " + vg + " has " + group.freeBytes() + " bytes free, a preallocated volume needs "
                            + size);
        }
        runner.run(List.of("lvcreate", "-q", "-y", "-L", size + "b", "-n", volumeName, "--addtag", TAG, vg));
        try {
            writeZeros(devicePath(vg, volumeName), 0, size, progress);
            runner.run(List.of("lvchange", "-q", "-an", vg + "/" + volumeName));
        } catch (RuntimeException e) {
            runQuietly(List.of("lvremove", "-q", "-f", vg + "/" + volumeName), e);
            throw e;
        }
    }

    @Override
    public boolean destroyVolume(SrInfo sr, String volumeName) {
        runner.forget();
        checkName(volumeName);
        requireSr(sr);
        Optional<LogicalVolume> lv = findOwnVolume(sr, volumeName);
        if (lv.isEmpty()) {
            return false;
        }
        detach(sr, volumeName);
        runner.run(List.of("lvremove", "-q", "-f", sr.location() + "/" + volumeName));
        return true;
    }

    @Override
    public VolumeInfo snapshot(SrInfo sr, String volumeName, String snapshotName) {
        runner.forget();
        return copy(sr, volumeName, snapshotName, true);
    }

    @Override
    public VolumeInfo clone(SrInfo sr, String volumeName, String cloneName) {
        runner.forget();
        return copy(sr, volumeName, cloneName, false);
    }

    private VolumeInfo copy(SrInfo sr, String source, String target, boolean snapshot) {
        checkName(source);
        checkName(target);
        requireSr(sr);
        LogicalVolume lv = requireOwnVolume(sr, source);
        String vg = sr.location();
        if (findLogicalVolume(vg, target).isPresent()) {
            throw new ThinsrException(ErrorCode.VDI_EXISTS, "an LV named " + vg + "/" + target + " exists", target);
        }
        if (!lv.isThinVolume()) {
            throw new ThinsrException(
                    ErrorCode.UNSUPPORTED,
                    "snapshot and clone of the preallocated volume " + source
                            + " are not supported (thin volumes only)",
                    source);
        }
        ensurePoolHeadroom(sr, 0);
        List<String> lvcreate = new ArrayList<>(List.of(
                "lvcreate",
                "-q",
                "-s",
                vg + "/" + source,
                "-n",
                target,
                "-ky",
                "--addtag",
                TAG,
                "-p",
                snapshot ? "r" : "rw"));
        if (snapshot) {
            lvcreate.addAll(List.of("--addtag", SNAPSHOT_TAG));
        }
        for (String tag : lv.tags()) {
            if (tag.startsWith(ORIGIN_TAG_PREFIX)) {
                lvcreate.addAll(List.of("--addtag", tag));
            }
        }
        // lvm suspends an origin it activated itself; a thinsr_ext device is suspended here
        String external = externalDmName(vg, source);
        boolean suspended =
                originTag(lv).isPresent() && externalDevice(external).isPresent();
        if (suspended) {
            runner.run(List.of("dmsetup", "suspend", external));
        }
        try {
            runner.run(lvcreate);
        } finally {
            if (suspended) {
                runner.run(List.of("dmsetup", "resume", external));
            }
        }
        return statVolume(sr, target);
    }

    @Override
    public VolumeInfo resize(SrInfo sr, String volumeName, long newVirtualSizeBytes) {
        runner.forget();
        checkName(volumeName);
        VolumeGroup group = requireSr(sr);
        LogicalVolume lv = requireOwnVolume(sr, volumeName);
        long size = roundUp(Math.max(1, newVirtualSizeBytes), group.extentSizeBytes());
        if (size < lv.sizeBytes()) {
            throw new ThinsrException(
                    ErrorCode.VDI_SHRINK_REFUSED,
                    volumeName + " is " + lv.sizeBytes() + " bytes; shrinking to " + newVirtualSizeBytes
                            + " is refused",
                    volumeName);
        }
        if (size == lv.sizeBytes()) {
            return toVolumeInfo(sr, lv);
        }
        String vg = sr.location();
        if (originTag(lv).isPresent()
                && externalDevice(externalDmName(vg, volumeName)).isPresent()) {
            throw new ThinsrException(
                    ErrorCode.VDI_IN_USE, volumeName + " has an external origin and is attached; detach it to resize");
        }
        if (lv.isThinVolume()) {
            ensurePoolHeadroom(sr, 0);
            runner.run(List.of("lvextend", "-q", "-L", size + "b", vg + "/" + volumeName));
        } else {
            long growth = size - lv.sizeBytes();
            if (growth > group.freeBytes()) {
                throw new ThinsrException(
                        ErrorCode.NO_SPACE,
                        "volume group " + vg + " has " + group.freeBytes() + " bytes free, need " + growth);
            }
            runner.run(List.of("lvextend", "-q", "-L", size + "b", vg + "/" + volumeName));
            // the new extents may hold old data: the grown range must read as zeros
            boolean wasActive = lv.isActive();
            if (!wasActive) {
                runner.run(List.of("lvchange", "-q", "-ay", vg + "/" + volumeName));
            }
            writeZeros(devicePath(vg, volumeName), lv.sizeBytes(), size, Progress.NONE);
            if (!wasActive) {
                runner.run(List.of("lvchange", "-q", "-an", vg + "/" + volumeName));
            }
        }
        return statVolume(sr, volumeName);
    }

    @Override
    public Attachment attach(SrInfo sr, String volumeName, Optional<Origin> origin, boolean readOnly) {
        runner.forget();
        checkName(volumeName);
        requireSr(sr);
        LogicalVolume lv = requireOwnVolume(sr, volumeName);
        Optional<Attachment> existing = attachment(sr, lv);
        if (existing.isPresent()) {
            return existing.get();
        }
        String vg = sr.location();
        boolean exportReadOnly = readOnly || lv.tags().contains(SNAPSHOT_TAG);
        if (!exportReadOnly && lv.isThinVolume()) {
            ensurePoolHeadroom(sr, 0);
        }
        Optional<OriginTag> recorded = originTag(lv);
        if (recorded.isEmpty()) {
            runner.run(List.of("lvchange", "-q", "-ay", "-K", vg + "/" + volumeName));
            if (exportReadOnly && !lv.isReadOnlyPermission()) {
                // lvm's read_only_volume_list would also make the pool read-only, which dm refuses
                runner.run(List.of(
                        "blockdev", "--setro", devicePath(vg, volumeName).toString()));
            }
            return new Attachment(
                    volumeName,
                    Attachment.Kind.BLOCK_DEVICE,
                    devicePath(vg, volumeName).toString(),
                    exportReadOnly);
        }
        Origin given = origin.orElseThrow(() -> new ThinsrException(
                ErrorCode.INVALID_ARGUMENT, volumeName + " has an external origin; attach needs it", volumeName));
        if (!recorded.get().location().equals(given.location())
                || !recorded.get().format().equals(given.format())) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "origin of " + volumeName + ": actual " + given.location() + " (" + given.format() + "), expected "
                            + recorded.get().location() + " (" + recorded.get().format() + ")");
        }
        String originDevice = exposeOrigin(given);
        try {
            activatePool(sr);
            long sectors = lv.sizeBytes() / 512;
            String table = "0 " + sectors + " thin " + poolDevice(sr) + " " + lv.thinId() + " " + originDevice;
            List<String> create = new ArrayList<>(List.of("dmsetup", "create", externalDmName(vg, volumeName)));
            if (exportReadOnly) {
                create.add("--readonly");
            }
            create.addAll(List.of("--table", table));
            runner.run(create);
        } catch (RuntimeException e) {
            releaseOrigin(originDevice, e);
            throw e;
        }
        return new Attachment(
                volumeName,
                Attachment.Kind.BLOCK_DEVICE,
                "/dev/mapper/" + externalDmName(vg, volumeName),
                exportReadOnly);
    }

    /** Makes {@code origin} a read-only block device and returns its path. */
    private String exposeOrigin(Origin origin) {
        String location = origin.location();
        if (location.contains("://")) {
            throw new ThinsrException(
                    ErrorCode.UNSUPPORTED,
                    "lvm-thin needs a local origin (file or block device); resolve " + location + " first");
        }
        Path path = Path.of(location);
        if (!path.isAbsolute() || !Files.exists(path)) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "origin " + location + " does not exist");
        }
        if (origin.format().equals("raw")) {
            if (!Files.isRegularFile(path)) {
                return location; // a block device, used as it is: dm-thin opens an external origin read-only
            }
            return runner.run(List.of("losetup", "--find", "--show", "--read-only", location))
                    .strip();
        }
        for (int index = 0; index < 256; index++) {
            Path sys = Path.of("/sys/block/nbd" + index);
            if (!Files.isDirectory(sys)) {
                break;
            }
            if (Files.exists(sys.resolve("pid"))
                    || !readSysfs(sys.resolve("size")).equals("0")) {
                continue;
            }
            String device = "/dev/nbd" + index;
            runner.runDetaching(
                    List.of("qemu-nbd", "--connect=" + device, "--read-only", "--format=" + origin.format(), location));
            waitForSize(sys.resolve("size"));
            return device;
        }
        throw new ThinsrException(ErrorCode.TOOL_FAILED, "no free /dev/nbdN (is the nbd module loaded?)");
    }

    private static String readSysfs(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return "";
        }
    }

    private static void waitForSize(Path sizeFile) {
        for (int attempt = 0; attempt < 100; attempt++) {
            String size = readSysfs(sizeFile);
            if (!size.isEmpty() && !size.equals("0")) {
                return;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while waiting for " + sizeFile);
            }
        }
        throw new ThinsrException(ErrorCode.TOOL_FAILED, sizeFile + " stayed 0 after qemu-nbd --connect");
    }

    private void releaseOrigin(String device, RuntimeException failure) {
        try {
            releaseOrigin(device);
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private void releaseOrigin(String device) {
        if (device.startsWith("/dev/loop")) {
            runner.run(List.of("losetup", "-d", device));
        } else if (device.startsWith("/dev/nbd")) {
            runner.run(List.of("qemu-nbd", "--disconnect", device));
        }
    }

    @Override
    public void detach(SrInfo sr, String volumeName) {
        runner.forget();
        checkName(volumeName);
        String vg = sr.location();
        Optional<LogicalVolume> lv = findOwnVolume(sr, volumeName);
        if (lv.isEmpty()) {
            return;
        }
        if (originTag(lv.get()).isPresent()) {
            String external = externalDmName(vg, volumeName);
            Optional<String> originDevice = externalDevice(external);
            if (originDevice.isPresent()) {
                runner.run(List.of("dmsetup", "remove", external));
                releaseOrigin(originDevice.get());
            }
            return;
        }
        if (lv.get().isActive()) {
            runner.run(List.of("lvchange", "-q", "-an", vg + "/" + volumeName));
        }
    }

    private void detachAll(SrInfo sr) {
        for (LogicalVolume lv : ownVolumes(sr)) {
            detach(sr, lv.name());
        }
    }

    @Override
    public Optional<Attachment> attachment(SrInfo sr, String volumeName) {
        runner.forget();
        checkName(volumeName);
        Optional<LogicalVolume> lv = findOwnVolume(sr, volumeName);
        return lv.isEmpty() ? Optional.empty() : attachment(sr, lv.get());
    }

    private Optional<Attachment> attachment(SrInfo sr, LogicalVolume lv) {
        String vg = sr.location();
        String external = externalDmName(vg, lv.name());
        if (originTag(lv).isPresent()) {
            if (externalDevice(external).isEmpty()) {
                return Optional.empty();
            }
            String info = runner.run(List.of("dmsetup", "info", "-c", "--noheadings", "-o", "attr", external));
            boolean readOnly = info.strip().endsWith("r");
            return Optional.of(
                    new Attachment(lv.name(), Attachment.Kind.BLOCK_DEVICE, "/dev/mapper/" + external, readOnly));
        }
        if (lv.isActive()) {
            String device = devicePath(vg, lv.name()).toString();
            boolean readOnly = lv.isActivatedReadOnly()
                    || runner.run(List.of("blockdev", "--getro", device))
                            .strip()
                            .equals("1");
            return Optional.of(new Attachment(lv.name(), Attachment.Kind.BLOCK_DEVICE, device, readOnly));
        }
        return Optional.empty();
    }

    /** The origin device (major:minor resolved to /dev/...) of a thinsr_ext device, when it exists. */
    private Optional<String> externalDevice(String dmName) {
        String list = runner.run(List.of("dmsetup", "ls", "--target", "thin"));
        boolean found = false;
        for (String line : list.split("\n", -1)) {
            String[] fields = line.trim().split("\\s+", -1);
            if (fields.length > 0 && fields[0].equals(dmName)) {
                found = true;
                break;
            }
        }
        if (!found) {
            return Optional.empty();
        }
        String table = runner.run(List.of("dmsetup", "table", dmName)).strip();
        String[] fields = table.split("\\s+", -1);
        // "0 SECTORS thin POOL_DEV DEV_ID [ORIGIN_DEV]"
        if (fields.length < 6 || !fields[2].equals("thin")) {
            return Optional.of("");
        }
        String origin = fields[5];
        if (origin.matches("[0-9]+:[0-9]+")) {
            String uevent = readSysfs(Path.of("/sys/dev/block/" + origin + "/uevent"));
            for (String line : uevent.split("\n", -1)) {
                if (line.startsWith("DEVNAME=")) {
                    return Optional.of("/dev/" + line.substring("DEVNAME=".length()));
                }
            }
        }
        return Optional.of(origin);
    }

    @Override
    public AllocationMap allocationMap(SrInfo sr, String volumeName) {
        runner.forget();
        checkName(volumeName);
        requireSr(sr);
        LogicalVolume lv = requireOwnVolume(sr, volumeName);
        long size = lv.sizeBytes();
        if (!lv.isThinVolume()) {
            return AllocationMap.uniform(size, State.DATA, Provenance.LOCAL);
        }
        ThinMetadata dump = dumpPool(sr, Set.of(lv.thinId()), List.of(lv));
        ExtentSet localBytes = dump.findDevice(lv.thinId())
                .map(ThinDevice::mappedExtents)
                .orElse(ExtentSet.empty())
                .clip(0, size);
        Optional<OriginTag> origin = originTag(lv);
        AllocationMap originMap = origin.isPresent()
                ? originMap(origin.get(), size)
                : AllocationMap.uniform(size, State.HOLE, Provenance.LOCAL);
        AllocationMap.Builder builder = AllocationMap.builder(size);
        for (AllocationMap.Run run : originMap.runs()) {
            long position = run.start();
            ExtentSet inside = localBytes.clip(run.start(), run.end());
            for (int i = 0; i < inside.size(); i++) {
                builder.fillTo(inside.start(i), run.state(), run.provenance());
                builder.add(inside.start(i), inside.end(i), State.DATA, Provenance.LOCAL);
                position = inside.end(i);
            }
            builder.fillTo(run.end(), run.state(), run.provenance());
            assert position <= run.end();
        }
        return builder.build();
    }

    /**
     * The origin's own map over {@code [0, size)} with ORIGIN provenance (qemu's depth + 1), HOLE
     * past the origin's end: from {@code qemu-img map --output=json}.
     */
    private AllocationMap originMap(OriginTag origin, long size) {
        String json = runner.run(List.of("qemu-img", "map", "--output=json", "-f", origin.format(), origin.location()));
        AllocationMap.Builder builder = AllocationMap.builder(size);
        try {
            JsonNode ranges = JSON.readTree(json);
            if (ranges == null || !ranges.isArray()) {
                throw new ThinsrException(
                        ErrorCode.TOOL_FAILED, "qemu-img map of " + origin.location() + ": not a JSON array");
            }
            int count = 0;
            for (JsonNode range : ranges) {
                if (++count > 10_000_000) {
                    throw new ThinsrException(ErrorCode.TOOL_FAILED, "qemu-img map: more than 10^7 ranges");
                }
                long start = range.path("start").asLong(-1);
                long length = range.path("length").asLong(-1);
                int depth = range.path("depth").asInt(-1);
                if ((start != builder.position() && start < size) || length <= 0 || depth < 0 || depth > 1000) {
                    throw new ThinsrException(
                            ErrorCode.TOOL_FAILED,
                            "qemu-img map of " + origin.location() + ": unexpected range " + range);
                }
                if (start >= size) {
                    break;
                }
                boolean present = range.path("present").asBoolean(true);
                boolean data = range.path("data").asBoolean(false);
                boolean zero = range.path("zero").asBoolean(false);
                State state = !present ? State.HOLE : data && !zero ? State.DATA : zero ? State.ZERO : State.HOLE;
                builder.add(start, Math.min(size, start + length), state, Provenance.origin(depth + 1));
            }
        } catch (JacksonException e) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED, "qemu-img map output is not JSON: " + e.getOriginalMessage());
        }
        builder.fillTo(size, State.HOLE, Provenance.LOCAL);
        return builder.build();
    }

    @Override
    public ExtentSet delta(SrInfo sr, String volumeName, String baseVolumeName) {
        runner.forget();
        checkName(volumeName);
        checkName(baseVolumeName);
        requireSr(sr);
        LogicalVolume volume = requireOwnVolume(sr, volumeName);
        LogicalVolume base = requireOwnVolume(sr, baseVolumeName);
        if (volumeName.equals(baseVolumeName)) {
            return ExtentSet.empty();
        }
        long smaller = Math.min(volume.sizeBytes(), base.sizeBytes());
        long larger = Math.max(volume.sizeBytes(), base.sizeBytes());
        if (!volume.isThinVolume() || !base.isThinVolume()) {
            return ExtentSet.of(0, larger);
        }
        ThinMetadata dump = dumpPool(sr, Set.of(volume.thinId(), base.thinId()), List.of(volume, base));
        Optional<ThinDevice> left = dump.findDevice(volume.thinId());
        Optional<ThinDevice> right = dump.findDevice(base.thinId());
        // a device thin_dump does not list has no mappings: all that the other maps differs
        ExtentSet changed = left.isPresent() && right.isPresent()
                ? ThinDelta.compute(left.get(), right.get()).changedExtents()
                : left.or(() -> right).map(ThinDevice::mappedExtents).orElse(ExtentSet.empty());
        ExtentSet bytes = changed.clip(0, smaller);
        return smaller == larger ? bytes : bytes.union(ExtentSet.of(smaller, larger));
    }

    /**
     * Dumps the pool's metadata through a metadata snapshot: flushes the given volumes when active,
     * {@code reserve_metadata_snap}, {@code thin_dump -m} of {@code <pool>_tmeta}, and always
     * {@code release_metadata_snap}.
     */
    private ThinMetadata dumpPool(SrInfo sr, Set<Long> thinIds, List<LogicalVolume> volumes) {
        activatePool(sr);
        String vg = sr.location();
        for (LogicalVolume lv : volumes) {
            Optional<Attachment> attached = attachment(sr, lv);
            if (attached.isPresent() && !attached.get().readOnly()) {
                runner.run(List.of("blockdev", "--flushbufs", attached.get().target()));
            }
        }
        String poolDevice = poolDevice(sr);
        String metadataDevice = "/dev/mapper/" + dmName(vg, pool(sr)) + "_tmeta";
        runner.run(List.of("dmsetup", "message", poolDevice, "0", "reserve_metadata_snap"));
        try {
            return runner.run(List.of("thin_dump", "-m", metadataDevice), stdout -> {
                try {
                    return ThinDumpParser.create().parse(stdout, "thin_dump -m " + metadataDevice, thinIds);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } finally {
            runner.run(List.of("dmsetup", "message", poolDevice, "0", "release_metadata_snap"));
        }
    }

    @Override
    public VolumeInfo statVolume(SrInfo sr, String volumeName) {
        runner.forget();
        checkName(volumeName);
        requireSr(sr);
        return toVolumeInfo(sr, requireOwnVolume(sr, volumeName));
    }

    @Override
    public List<VolumeInfo> listVolumes(SrInfo sr) {
        runner.forget();
        requireSr(sr);
        return ownVolumes(sr).stream()
                .map(lv -> toVolumeInfo(sr, lv))
                .sorted(java.util.Comparator.comparing(VolumeInfo::name))
                .toList();
    }

    private VolumeInfo toVolumeInfo(SrInfo sr, LogicalVolume lv) {
        boolean thin = lv.isThinVolume();
        return new VolumeInfo(
                lv.name(),
                lv.sizeBytes(),
                thin ? usedBytes(lv) : lv.sizeBytes(),
                thin ? Provisioning.THIN : Provisioning.PREALLOCATED,
                lv.tags().contains(SNAPSHOT_TAG),
                originTag(lv).isPresent(),
                devicePath(sr.location(), lv.name()).toString());
    }

    // ---- pool sizing --------------------------------------------------------------------------

    private long headroom(VolumeGroup group) {
        return Math.max(minimumHeadroomBytes, group.sizeBytes() / 20);
    }

    /**
     * Own-the-world only: grows the pool so that at least the headroom (and {@code neededBytes})
     * stays free, as far as the VG has free extents; grows the pool's metadata when more than half
     * full. Be-nice pools keep the size the user chose.
     */
    private void ensurePoolHeadroom(SrInfo sr, long neededBytes) {
        if (!sr.configuration().get("mode").equals(MODE_OWN)) {
            return;
        }
        VolumeGroup group = requireVolumeGroup(sr.location());
        LogicalVolume pool = requirePool(sr);
        long free = pool.sizeBytes() - usedBytes(pool);
        long wanted = Math.max(headroom(group), neededBytes);
        String target = sr.location() + "/" + pool(sr);
        if (free < wanted && group.freeBytes() > 0) {
            long growth = Math.min(roundUp(wanted - free, group.extentSizeBytes()), group.freeBytes());
            runner.run(List.of("lvextend", "-q", "-L", "+" + growth + "b", target));
            group = requireVolumeGroup(sr.location());
        }
        if (pool.metadataPercent() > 50 && group.freeBytes() >= pool.metadataSizeBytes()) {
            runner.run(List.of("lvextend", "-q", "--poolmetadatasize", "+" + pool.metadataSizeBytes() + "b", target));
        }
    }

    private static long usedBytes(LogicalVolume lv) {
        return lv.dataPercent() <= 0 ? 0 : (long) Math.ceil(lv.sizeBytes() * (lv.dataPercent() / 100.0));
    }

    // ---- lookups ------------------------------------------------------------------------------

    private Optional<VolumeGroup> volumeGroup(String vg) {
        Optional<String> report = lvsReport(vg);
        if (report.isEmpty()) {
            return Optional.empty();
        }
        List<VolumeGroup> fromLvs = LvmReport.parseVolumeGroups(report.get(), "lv");
        if (!fromLvs.isEmpty()) {
            return Optional.of(fromLvs.getFirst());
        }
        // a VG without any LV: lvs has no row to carry the VG's columns
        String json = runner.run(
                List.of("vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LvmReport.VG_FIELDS, vg));
        return LvmReport.parseVolumeGroups(json).stream()
                .filter(g -> g.name().equals(vg))
                .findFirst();
    }

    /**
     * One {@code lvs} report of the VG with LV and VG columns (remembered within a call), or empty
     * when the VG does not exist.
     */
    private Optional<String> lvsReport(String vg) {
        try {
            return Optional.of(runner.run(List.of(
                    "lvs",
                    "--reportformat",
                    "json",
                    "--units",
                    "b",
                    "--nosuffix",
                    "-o",
                    LvmReport.LV_FIELDS + "," + LvmReport.VG_FIELDS,
                    vg)));
        } catch (ThinsrException e) {
            if (e.code() == ErrorCode.TOOL_FAILED && e.getMessage().contains("Volume group \"" + vg + "\" not found")) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private VolumeGroup requireVolumeGroup(String vg) {
        return volumeGroup(vg)
                .orElseThrow(() ->
                        new ThinsrException(ErrorCode.SR_NOT_FOUND, "volume group " + vg + " does not exist", vg));
    }

    /** The VG, after checking that it holds thinsr's metadata LV. */
    private VolumeGroup requireSr(SrInfo sr) {
        VolumeGroup group = volumeGroup(sr.location()).orElseThrow(() -> srNotFound(sr));
        if (findLogicalVolume(sr.location(), METADATA_NAME)
                .filter(lv -> lv.tags().contains(TAG))
                .isEmpty()) {
            throw srNotFound(sr);
        }
        return group;
    }

    private static ThinsrException srNotFound(SrInfo sr) {
        return new ThinsrException(
                ErrorCode.SR_NOT_FOUND,
                "no thinsr SR in volume group " + sr.location() + " (no " + METADATA_NAME + " LV tagged " + TAG + ")",
                sr.location());
    }

    private LogicalVolume requirePool(SrInfo sr) {
        return findLogicalVolume(sr.location(), pool(sr))
                .filter(LogicalVolume::isThinPool)
                .orElseThrow(() -> new ThinsrException(
                        ErrorCode.SR_NOT_FOUND,
                        "thin pool " + sr.location() + "/" + pool(sr) + " is missing",
                        sr.location()));
    }

    private void activatePool(SrInfo sr) {
        if (!requirePool(sr).isActive()) {
            runner.run(List.of("lvchange", "-q", "-ay", sr.location() + "/" + pool(sr)));
        }
    }

    /** The device-mapper device that takes pool messages: {@code VG-POOL-tpool}. */
    private String poolDevice(SrInfo sr) {
        String tpool = "/dev/mapper/" + dmName(sr.location(), pool(sr)) + "-tpool";
        return Files.exists(Path.of(tpool)) ? tpool : "/dev/mapper/" + dmName(sr.location(), pool(sr));
    }

    private static String pool(SrInfo sr) {
        return sr.configuration().getOrDefault("pool", POOL_NAME);
    }

    private List<LogicalVolume> logicalVolumes(String vg) {
        return LvmReport.parseLogicalVolumes(lvsReport(vg)
                .orElseThrow(() ->
                        new ThinsrException(ErrorCode.SR_NOT_FOUND, "volume group " + vg + " does not exist", vg)));
    }

    private Optional<LogicalVolume> findLogicalVolume(String vg, String name) {
        return logicalVolumes(vg).stream().filter(lv -> lv.name().equals(name)).findFirst();
    }

    /** thinsr's visible volumes: tagged, neither the pool nor the metadata LV. */
    private List<LogicalVolume> ownVolumes(SrInfo sr) {
        return logicalVolumes(sr.location()).stream()
                .filter(lv -> lv.tags().contains(TAG))
                .filter(lv -> !lv.isThinPool()
                        && !lv.name().equals(METADATA_NAME)
                        && !lv.name().startsWith("["))
                .toList();
    }

    private Optional<LogicalVolume> findOwnVolume(SrInfo sr, String name) {
        return ownVolumes(sr).stream().filter(lv -> lv.name().equals(name)).findFirst();
    }

    private LogicalVolume requireOwnVolume(SrInfo sr, String name) {
        return findOwnVolume(sr, name)
                .orElseThrow(() -> new ThinsrException(
                        ErrorCode.VDI_NOT_FOUND, "no thinsr volume " + name + " in " + sr.location(), name));
    }

    // ---- names and tags -----------------------------------------------------------------------

    static void checkName(String name) {
        boolean valid = VolumeNames.isValid(name)
                && VOLUME_NAME.matcher(name).matches()
                && !name.equals(".")
                && !name.equals("..")
                && !name.startsWith("snapshot")
                && !name.startsWith("pvmove")
                && !name.startsWith("thinsr_")
                && LVM_RESERVED_PARTS.stream().noneMatch(name::contains);
        if (!valid) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "volume name: actual '" + name + "', expected [A-Za-z0-9+_][A-Za-z0-9+_.-]{0,63},"
                            + " not starting with snapshot, pvmove or thinsr_ and without LVM's reserved _tdata, _tmeta, ...",
                    String.valueOf(name));
        }
    }

    /** lvm's device-mapper name of VG/LV: each '-' doubled, joined by '-'. */
    static String dmName(String vg, String lv) {
        return vg.replace("-", "--") + "-" + lv.replace("-", "--");
    }

    static String externalDmName(String vg, String lv) {
        return EXTERNAL_DM_PREFIX + dmName(vg, lv);
    }

    private static Path devicePath(String vg, String lv) {
        return Path.of("/dev", vg, lv);
    }

    /** An origin as recorded in an LV tag. */
    record OriginTag(String format, long sizeBytes, String location) {}

    static String originTag(Origin origin) {
        byte[] location = origin.location().getBytes(StandardCharsets.UTF_8);
        if (location.length > 450) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "origin location longer than 450 bytes: "
                            + origin.location().length());
        }
        return ORIGIN_TAG_PREFIX + origin.format() + ":" + origin.virtualSizeBytes() + ":"
                + HexFormat.of().formatHex(location);
    }

    static Optional<OriginTag> originTag(LogicalVolume lv) {
        for (String tag : lv.tags()) {
            if (!tag.startsWith(ORIGIN_TAG_PREFIX)) {
                continue;
            }
            String[] parts = tag.substring(ORIGIN_TAG_PREFIX.length()).split(":", -1);
            try {
                if (parts.length != 3 || !Origin.FORMATS.contains(parts[0])) {
                    throw new IllegalArgumentException("fields");
                }
                String location = new String(HexFormat.of().parseHex(parts[2]), StandardCharsets.UTF_8);
                return Optional.of(new OriginTag(parts[0], Long.parseLong(parts[1]), location));
            } catch (IllegalArgumentException e) {
                throw new ThinsrException(
                        ErrorCode.CORRUPT_INPUT,
                        "LV " + lv.name() + " tag: actual '" + tag + "', expected " + ORIGIN_TAG_PREFIX
                                + "<format>:<size>:<hex location>");
            }
        }
        return Optional.empty();
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static long roundUp(long value, long unit) {
        return Math.multiplyExact(Math.ceilDiv(value, unit), unit);
    }

    private static long parseSize(String key, String value) {
        try {
            long size = Long.parseLong(value);
            if (size <= 0) {
                throw new NumberFormatException();
            }
            return size;
        } catch (NumberFormatException e) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, key + ": actual '" + value + "', expected a positive number of bytes");
        }
    }

    /**
     * Writes zeros to {@code [start, end)} of a block device, reporting progress after every 8 MiB
     * and stopping with {@code CANCELLED} when asked; forces the data out at the end.
     */
    private static void writeZeros(Path device, long start, long end, Progress progress) {
        ByteBuffer zeros = ByteBuffer.allocateDirect(ZERO_CHUNK_BYTES);
        long total = end - start;
        try (FileChannel channel = FileChannel.open(device, StandardOpenOption.WRITE)) {
            long position = start;
            while (position < end) {
                if (progress.cancelled()) {
                    throw new ThinsrException(ErrorCode.CANCELLED, "zeroing " + device + " cancelled at " + position);
                }
                int length = (int) Math.min(ZERO_CHUNK_BYTES, end - position);
                zeros.clear().limit(length);
                while (zeros.hasRemaining()) {
                    position += channel.write(zeros, position);
                }
                progress.update(position - start, total);
            }
            channel.force(true);
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.IO_ERROR, "cannot write zeros to " + device + ": " + e.getMessage(), e);
        }
        if (total == 0) {
            progress.update(0, 0);
        }
    }

    /**
     * Remembers the output of lvm's and dmsetup's reports within one backend call (they are read
     * several times per operation and cost ~0.3 s each on a slow host); any other command, and the
     * start of every public call ({@link #forget}), drops what it remembered. Not thread-safe, like
     * the backend's calls on one SR.
     */
    private static final class CachingRunner implements LvmCommandRunner {
        private static final Set<String> REPORTS = Set.of("lvs", "vgs", "pvs");
        private final LvmCommandRunner delegate;
        private final Map<List<String>, String> remembered = new java.util.HashMap<>();

        CachingRunner(LvmCommandRunner delegate) {
            this.delegate = delegate;
        }

        void forget() {
            remembered.clear();
        }

        @Override
        public String run(List<String> command) {
            boolean report = REPORTS.contains(command.getFirst())
                    || (command.getFirst().equals("dmsetup")
                            && command.size() > 1
                            && Set.of("ls", "table").contains(command.get(1)));
            if (!report) {
                remembered.clear();
                return delegate.run(command);
            }
            String cached = remembered.get(command);
            if (cached == null) {
                cached = delegate.run(command);
                remembered.put(List.copyOf(command), cached);
            }
            return cached;
        }

        @Override
        public <T> T run(List<String> command, StdoutParser<T> parser) {
            remembered.clear();
            return delegate.run(command, parser);
        }

        @Override
        public void runDetaching(List<String> command) {
            remembered.clear();
            delegate.runDetaching(command);
        }
    }
}
