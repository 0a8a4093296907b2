package org.thinsr.httpexport;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.State;

/**
 * The raw bytes of a disk: DATA runs are read from the source, ZERO and HOLE runs are sent as
 * zeros without reading. Any range is produced by walking only the runs it covers.
 */
final class RawBody implements ResponseBody {
    private static final int BUFFER_BYTES = 1 << 20;
    private static final byte[] ZEROS = new byte[BUFFER_BYTES];

    private final BlockSource source;
    private final AllocationMap map;

    RawBody(BlockSource source, AllocationMap map) {
        this.source = source;
        this.map = map;
    }

    @Override
    public long length() {
        return map.virtualSize();
    }

    @Override
    public String contentType() {
        return "application/octet-stream";
    }

    @Override
    public void writeRange(long from, long to, OutputStream out) throws IOException {
        if (from < 0 || from > to || to > length()) {
            throw new IllegalArgumentException("range [" + from + ", " + to + ") outside [0, " + length() + ")");
        }
        if (from == to) {
            return;
        }
        byte[] bytes = new byte[BUFFER_BYTES];
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        for (int run = map.runIndexAt(from); run < map.runCount() && map.runStart(run) < to; run++) {
            long start = Math.max(from, map.runStart(run));
            long end = Math.min(to, map.runEnd(run));
            if (map.runState(run) == State.DATA) {
                copy(start, end, bytes, buffer, out);
            } else {
                zeros(end - start, out);
            }
        }
    }

    private void copy(long start, long end, byte[] bytes, ByteBuffer buffer, OutputStream out) throws IOException {
        for (long offset = start; offset < end; ) {
            int chunk = (int) Math.min(BUFFER_BYTES, end - offset);
            buffer.clear().limit(chunk);
            source.readFully(offset, buffer);
            out.write(bytes, 0, chunk);
            offset += chunk;
        }
    }

    static void zeros(long length, OutputStream out) throws IOException {
        for (long left = length; left > 0; ) {
            int chunk = (int) Math.min(BUFFER_BYTES, left);
            out.write(ZEROS, 0, chunk);
            left -= chunk;
        }
    }
}
