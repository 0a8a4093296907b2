package org.thinsr.migrate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.FileRegion;

/**
 * Views of one thread-safe source or sink shared by every copy worker: each worker closes its view
 * as {@link SparseCopier} does, and the shared endpoint stays open for its owner to close.
 */
final class Unclosed {
    private Unclosed() {}

    static BlockSource source(BlockSource source) {
        return new BlockSource() {
            @Override
            public long size() throws IOException {
                return source.size();
            }

            @Override
            public void readFully(long offset, ByteBuffer buffer) throws IOException {
                source.readFully(offset, buffer);
            }

            @Override
            public Optional<List<FileRegion>> regions(long offset, long length) throws IOException {
                return source.regions(offset, length);
            }

            @Override
            public void close() {}
        };
    }

    static BlockSink sink(BlockSink sink) {
        return new BlockSink() {
            @Override
            public long size() throws IOException {
                return sink.size();
            }

            @Override
            public void write(long offset, ByteBuffer buffer) throws IOException {
                sink.write(offset, buffer);
            }

            @Override
            public void writeRetained(long offset, ByteBuffer buffer) throws IOException {
                sink.writeRetained(offset, buffer);
            }

            @Override
            public boolean writeRegions(long offset, List<FileRegion> regions) throws IOException {
                return sink.writeRegions(offset, regions);
            }

            @Override
            public void writeZeroes(long offset, long length) throws IOException {
                sink.writeZeroes(offset, length);
            }

            @Override
            public void flush() throws IOException {
                sink.flush();
            }

            @Override
            public void close() {}
        };
    }
}
