package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalLong;

/** What a file occupies on disk, asked of the kernel instead of a tool run per file. */
public final class FileAllocation {
    private FileAllocation() {}

    /**
     * The bytes {@code file} occupies on its file system ({@code st_blocks × 512}: what {@code du}
     * and {@code qemu-img info}'s {@code actual-size} print), from one {@code statx} call. Empty
     * where the platform cannot tell; then ask a tool.
     *
     * @throws IOException when the file cannot be looked at (missing, no permission)
     */
    public static OptionalLong allocatedBytes(Path file) throws IOException {
        return FileExtents.allocatedBytes(file);
    }
}
