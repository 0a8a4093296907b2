package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@link StorageBackend} contract on real kernel dm-thin: {@link LvmThinBackend} in
 * own-the-world mode on a scratch disk of the VM. Runs inside the VM only ({@code scripts/test-vm}).
 */
class LvmThinBackendVmIT extends StorageBackendContract {
    private static final AtomicInteger SR_NUMBER = new AtomicInteger();

    @Override
    protected StorageBackend newBackend(Path workDir) {
        return new LvmThinBackend(LvmVm.RUNNER, workDir.resolve("locks"), 64 * MIB);
    }

    @Override
    protected SrConfig newSrConfig(Path workDir) {
        return new SrConfig(Map.of("device", LvmVm.freshDisk(), "vg", "thinsr_it" + SR_NUMBER.incrementAndGet()));
    }
}
