package org.thinsr.lifecycle;

import java.io.IOException;
import java.nio.file.Path;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.qmpclient.NbdBlockSink;
import org.thinsr.qmpclient.NbdBlockSource;
import org.thinsr.qmpclient.NbdUri;
import org.thinsr.vhdstream.RawFileSink;
import org.thinsr.vhdstream.RawFileSource;

/** Opens the bytes of an {@link Attachment}: NBD exports through the NBD client, devices and files directly. */
public final class Attachments {
    private Attachments() {}

    /** A reader of the attached volume; the caller closes it. */
    public static BlockSource openSource(Attachment attachment) throws IOException {
        return switch (attachment.kind()) {
            case NBD -> NbdBlockSource.open(NbdUri.parse(attachment.target()), 1);
            case BLOCK_DEVICE, FILE -> RawFileSource.open(Path.of(attachment.target()));
        };
    }

    /** A writer of the attached volume (which must be attached read-write); the caller closes it. */
    public static BlockSink openSink(Attachment attachment) throws IOException {
        return switch (attachment.kind()) {
            case NBD -> NbdBlockSink.open(NbdUri.parse(attachment.target()), 1);
            case BLOCK_DEVICE, FILE -> RawFileSink.openExisting(Path.of(attachment.target()));
        };
    }
}
