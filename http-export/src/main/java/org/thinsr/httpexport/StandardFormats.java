package org.thinsr.httpexport;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ReadAheadSource;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.allocmap.WriteBehindSink;
import org.thinsr.vhdstream.ChunkedDecoder;
import org.thinsr.vhdstream.TarChecksum;
import org.thinsr.vhdstream.TarPlan;
import org.thinsr.vhdstream.TarReader;
import org.thinsr.vhdstream.TarWriter;
import org.thinsr.vhdstream.VhdLayout;
import org.thinsr.vhdstream.VhdOptions;
import org.thinsr.vhdstream.VhdReader;
import org.thinsr.vhdstream.VhdWriter;

/**
 * Every format of {@code thinsr serve}: raw, vhd (dynamic), vhd-fixed and tar (XVA chunks) for
 * export; raw, vhd, tar and xapi's chunked framing for import.
 *
 * <p>Exports are deterministic for a given content (so Range and resumed downloads see the same
 * bytes): the VHD unique id is derived from the content's ETag and its timestamps are fixed, and
 * VHD blocks are planned from the allocation map alone (the map already tells DATA from ZERO), so
 * planning never reads the disk. With a base, vhd and tar carry only the changed blocks or chunks;
 * raw always carries the whole disk.
 */
public final class StandardFormats {
    /** 2000-01-01T00:00:00Z, the VHD epoch: a fixed timestamp keeps exports byte-identical. */
    static final Instant FIXED_TIMESTAMP = Instant.ofEpochSecond(946_684_800L);

    private StandardFormats() {}

    public static Formats all() {
        Formats formats = Formats.raw();
        formats.registerExporter("vhd", view -> vhd(view, VhdOptions.dynamic(FIXED_TIMESTAMP)));
        formats.registerExporter("vhd-fixed", view -> {
            if (view.changed().isPresent()) {
                throw new ThinsrException(ErrorCode.UNSUPPORTED, "a fixed VHD cannot be a delta: use format=vhd");
            }
            return vhd(view, VhdOptions.fixed(FIXED_TIMESTAMP));
        });
        formats.registerExporter("tar", StandardFormats::tar);
        formats.registerImporter("vhd", (in, declaredLength, virtualSize, sink) -> {
            if (declaredLength < 0) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "a VHD upload needs a Content-Length (its trailing footer sits at the end of the body)");
            }
            VhdReader.Result result = VhdReader.readStream(in, declaredLength, sink, true);
            if (result.virtualSize() > virtualSize) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "the VHD's virtual size " + result.virtualSize() + " exceeds the VDI's " + virtualSize);
            }
        });
        formats.registerImporter("tar", (in, declaredLength, virtualSize, sink) -> TarReader.forVdi(true)
                .read(in, sink, false));
        formats.registerImporter(
                "chunked", (in, declaredLength, virtualSize, sink) -> new ChunkedDecoder().decode(in, sink));
        return formats;
    }

    /** Reads of export bodies and writes of imports run here (virtual threads). */
    static final ExecutorService IO = Executors.newVirtualThreadPerTaskExecutor();

    static final int READ_AHEAD_CHUNK_BYTES = 2 << 20;
    static final int READ_AHEAD_DEPTH = 8;
    static final int WRITES_IN_FLIGHT = 8;

    /** Below this many bytes of output a range is served without reading ahead. */
    static final long READ_AHEAD_MIN_BYTES = 16L << 20;

    /**
     * The view's source for writing output bytes {@code [from, to)}: reading ahead over the exported
     * data inside {@code [dataFrom, dataTo)} (the disk offsets those bytes can need) when the range
     * is large, else plain. Closing it waits for the reads in flight and leaves the view's source open.
     */
    static ReadAheadSource readAhead(DiskStore.ExportView view, long from, long to, long dataFrom, long dataTo) {
        ExtentSet plan = to - from < READ_AHEAD_MIN_BYTES
                ? ExtentSet.empty()
                : exportedMap(view).nonZeroExtents().clip(dataFrom, dataTo);
        return new ReadAheadSource(view.source(), plan, READ_AHEAD_CHUNK_BYTES, READ_AHEAD_DEPTH, IO, false);
    }

    /** Imports write through this: several writes in flight; its flush drains them and flushes. */
    static WriteBehindSink writeBehind(BlockSink sink) {
        return new WriteBehindSink(sink, WRITES_IN_FLIGHT, IO, false);
    }

    /** What to send: the whole map, or with a base only the changed DATA. */
    static AllocationMap exportedMap(DiskStore.ExportView view) {
        AllocationMap map = view.map();
        Optional<ExtentSet> changed = view.changed();
        if (changed.isEmpty()) {
            return map;
        }
        return AllocationMap.ofData(map.virtualSize(), map.nonZeroExtents().intersection(changed.get()));
    }

    private static ResponseBody vhd(DiskStore.ExportView view, VhdOptions base) {
        UUID uniqueId = UUID.nameUUIDFromBytes(view.etag().getBytes(StandardCharsets.UTF_8));
        VhdLayout layout =
                VhdLayout.plan(exportedMap(view), base.withSkipZeroBlocks(false).withUniqueId(uniqueId));
        return new ResponseBody() {
            @Override
            public long length() {
                return layout.length();
            }

            @Override
            public String contentType() {
                return "application/x-vhd";
            }

            @Override
            public void writeRange(long from, long to, OutputStream out) throws IOException {
                try (ReadAheadSource source = readAhead(view, from, to, 0, layout.virtualSize())) {
                    new VhdWriter(layout, source).write(Channels.newChannel(out), from, to);
                }
            }
        };
    }

    private static ResponseBody tar(DiskStore.ExportView view) throws IOException {
        TarPlan plan = TarPlan.plan(exportedMap(view), "vdi/", TarChecksum.XXHASH, 0);
        long length = new TarWriter(plan, view.source()).length();
        return new ResponseBody() {
            @Override
            public long length() {
                return length;
            }

            @Override
            public String contentType() {
                return "application/x-tar";
            }

            @Override
            public void writeRange(long from, long to, OutputStream out) throws IOException {
                try (ReadAheadSource source = readAhead(view, from, to, 0, plan.virtualSize())) {
                    new TarWriter(plan, source).writeRange(from, to, out);
                }
            }
        };
    }
}
