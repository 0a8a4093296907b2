package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.Optional;

/**
 * Checks a VHD file's consistency (for {@code thinsr vhd check}): both footers valid and identical,
 * dynamic header checksum and bounds, every BAT entry inside the disk and the file, no two blocks
 * or metadata structures overlapping. Stops at the first problem.
 */
public final class VhdCheck {
    private VhdCheck() {}

    /**
     * The first problem found, as the message of a {@link CorruptImageException} (offset, field,
     * actual, expected); empty when the file is consistent.
     *
     * @throws IOException when the file cannot be read (not a consistency problem)
     */
    public static Optional<String> firstProblem(FileChannel file) throws IOException {
        try {
            VhdImage.read(new VhdInput.Seekable(file));
            return Optional.empty();
        } catch (CorruptImageException e) {
            return Optional.of(e.getMessage());
        }
    }
}
