package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test helper for the {@code *VmIT} classes, which run inside the dm-thin VM started by {@code
 * scripts/test-vm}: hands out its scratch disks ({@code THINSR_VM_DISKS}) round-robin, wiping any
 * LVM left on a disk by an earlier test, and fails (never skips) outside the VM.
 */
final class LvmVm {
    static final LvmCommandRunner RUNNER = new LvmProcessRunner(Duration.ofMinutes(2));
    private static final AtomicInteger NEXT = new AtomicInteger();

    private LvmVm() {}

    /** The VM's scratch disks; fails outside the VM. */
    static List<String> disks() {
        String disks = System.getenv("THINSR_VM_DISKS");
        if (disks == null || disks.isBlank()) {
            return fail("THINSR_VM_DISKS is not set: *VmIT tests need a kernel with device-mapper;"
                    + " run them with scripts/test-vm (it boots scripts/dmthin-vm/run-in-vm)");
        }
        Tools.require("lvcreate", "lvm2");
        Tools.require("dmsetup", "dmsetup");
        Tools.require("thin_dump", "thin-provisioning-tools");
        return List.of(disks.trim().split("\\s+"));
    }

    /** The next scratch disk, with no PV or VG on it. */
    static String freshDisk() {
        List<String> disks = disks();
        String disk = disks.get(Math.floorMod(NEXT.getAndIncrement(), disks.size()));
        wipe(disk);
        return disk;
    }

    /** Removes whatever VG and PV label an earlier (failed) test left on {@code disk}. */
    static void wipe(String disk) {
        for (String line : run("pvs", "--noheadings", "-o", "pv_name,vg_name").split("\n", -1)) {
            String[] fields = line.trim().split("\\s+", -1);
            if (!fields[0].equals(disk)) {
                continue;
            }
            if (fields.length > 1 && !fields[1].isEmpty()) {
                run("dmsetup", "remove_all");
                run("vgremove", "-q", "-f", fields[1]);
            }
            run("pvremove", "-q", "-f", disk);
            return;
        }
    }

    static String run(String... command) {
        return RUNNER.run(List.of(command));
    }
}
