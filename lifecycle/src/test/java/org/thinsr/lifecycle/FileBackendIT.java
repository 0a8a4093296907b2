package org.thinsr.lifecycle;

import java.nio.file.Path;

/** The {@link StorageBackendContract} on the {@link FileBackend} with real qemu-img and qemu-storage-daemon. */
class FileBackendIT extends StorageBackendContract {
    @Override
    protected StorageBackend newBackend(Path workDir) {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-storage-daemon", "qemu-system-common");
        return new FileBackend(CommandRunner.PROCESSES, workDir.resolve("run"));
    }

    @Override
    protected SrConfig newSrConfig(Path workDir) {
        return SrConfig.of("path", workDir.resolve("sr").toString());
    }
}
