package org.thinsr.vhdstream;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;

/** A test {@link BlockSource} over a file, with an allocation map given by the test. */
final class FileSource implements BlockSource {
    private final FileChannel channel;
    private final AllocationMap map;

    FileSource(Path path, AllocationMap map) throws IOException {
        this.channel = FileChannel.open(path, StandardOpenOption.READ);
        this.map = map;
    }

    @Override
    public long size() throws IOException {
        return channel.size();
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        long position = offset;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position);
            if (n < 0) {
                throw new EOFException("end of file at " + position);
            }
            position += n;
        }
    }

    @Override
    public AllocationMap allocationMap() {
        return map;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
