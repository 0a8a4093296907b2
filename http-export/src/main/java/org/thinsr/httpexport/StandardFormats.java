package org.thinsr.httpexport;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;
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
        VhdWriter writer = new VhdWriter(layout, view.source());
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
                writer.write(Channels.newChannel(out), from, to);
            }
        };
    }

    private static ResponseBody tar(DiskStore.ExportView view) throws IOException {
        TarPlan plan = TarPlan.plan(exportedMap(view), "vdi/", TarChecksum.XXHASH, 0);
        TarWriter writer = new TarWriter(plan, view.source());
        return new ResponseBody() {
            @Override
            public long length() {
                return writer.length();
            }

            @Override
            public String contentType() {
                return "application/x-tar";
            }

            @Override
            public void writeRange(long from, long to, OutputStream out) throws IOException {
                writer.writeRange(from, to, out);
            }
        };
    }
}
