package org.thinsr.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.FileRegion;
import org.thinsr.allocmap.HostExtents;

/**
 * Reads a file SR volume's bytes from the files of its chain at the host offsets {@code qemu-img
 * map} gave ({@link HostExtents}), without the daemon that serves it: a data run at depth {@code d}
 * is read from {@code chain[d]} at its offset, anything else reads as zeros. Only for a chain that
 * cannot change while it is read (an attached read-only volume: nothing writes it and no merge
 * touches a chain in use) whose layers keep their clusters plain ({@link Qcow2Header#plainClusters})
 * and whose every data run has an offset. Positional reads on shared channels: thread-safe.
 */
final class FileChainSource implements BlockSource {
    private static final byte[] ZEROS = new byte[64 << 10];

    private final List<Path> chain;
    private final List<FileChannel> files;
    private final HostExtents host;
    private final long size;

    private FileChainSource(List<Path> chain, List<FileChannel> files, HostExtents host, long size) {
        this.chain = chain;
        this.files = files;
        this.host = host;
        this.size = size;
    }

    /** Opens every file of {@code chain} (top first) for reading. */
    static FileChainSource open(List<Path> chain, HostExtents host, long size) throws IOException {
        if (!host.locatedWithin(chain.size())) {
            throw new IllegalArgumentException("a data run lies outside the chain's files or has no offset");
        }
        List<FileChannel> files = new ArrayList<>();
        try {
            for (Path layer : chain) {
                files.add(FileChannel.open(layer, StandardOpenOption.READ));
            }
        } catch (IOException | RuntimeException e) {
            for (FileChannel file : files) {
                file.close();
            }
            throw e;
        }
        return new FileChainSource(List.copyOf(chain), List.copyOf(files), host, size);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        if (offset < 0 || offset > size - buffer.remaining()) {
            throw new java.io.EOFException(
                    "read of " + buffer.remaining() + " bytes at " + offset + " is outside the disk of " + size);
        }
        long position = offset;
        while (buffer.hasRemaining()) {
            int run = host.find(position);
            if (run < 0) {
                int next = -run - 1;
                long gapEnd = next < host.size() ? host.start(next) : size;
                int length = (int) Math.min(buffer.remaining(), gapEnd - position);
                zero(buffer, length);
                position += length;
            } else {
                int length = (int) Math.min(buffer.remaining(), host.end(run) - position);
                read(run, position, buffer, length);
                position += length;
            }
        }
    }

    /** The pieces of the chain's files (and the zeros between them) that make up the range. */
    @Override
    public Optional<List<FileRegion>> regions(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new java.io.EOFException(
                    "range of " + length + " bytes at " + offset + " is outside the disk of " + size);
        }
        List<FileRegion> regions = new ArrayList<>();
        long position = offset;
        long end = offset + length;
        while (position < end) {
            int run = host.find(position);
            if (run < 0) {
                int next = -run - 1;
                long gapEnd = Math.min(end, next < host.size() ? host.start(next) : size);
                regions.add(FileRegion.zeros(gapEnd - position));
                position = gapEnd;
            } else {
                long runEnd = Math.min(end, host.end(run));
                regions.add(new FileRegion(
                        files.get(host.depth(run)),
                        host.hostOffset(run) + (position - host.start(run)),
                        runEnd - position));
                position = runEnd;
            }
        }
        return Optional.of(regions);
    }

    private void read(int run, long position, ByteBuffer buffer, int length) throws IOException {
        FileChannel file = files.get(host.depth(run));
        long filePosition = host.hostOffset(run) + (position - host.start(run));
        int limit = buffer.limit();
        buffer.limit(buffer.position() + length);
        try {
            while (buffer.hasRemaining()) {
                int n = file.read(buffer, filePosition);
                if (n < 0) {
                    throw CorruptInputException.of(
                            chain.get(host.depth(run)).toString(),
                            "data of the disk at " + position + " (qemu-img map)",
                            "end of file at " + filePosition,
                            buffer.remaining() + " more bytes");
                }
                filePosition += n;
            }
        } finally {
            buffer.limit(limit);
        }
    }

    private static void zero(ByteBuffer buffer, int length) {
        int left = length;
        while (left > 0) {
            int n = Math.min(left, ZEROS.length);
            buffer.put(ZEROS, 0, n);
            left -= n;
        }
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        for (FileChannel file : files) {
            try {
                file.close();
            } catch (IOException e) {
                failure = failure == null ? e : failure;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
