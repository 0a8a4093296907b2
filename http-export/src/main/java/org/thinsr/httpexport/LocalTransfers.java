package org.thinsr.httpexport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * Export and import without HTTP ({@code thinsr export} and {@code thinsr import} on the host): the
 * same formats, plans and staging as {@code thinsr serve}, to and from a stream.
 */
public final class LocalTransfers {
    private LocalTransfers() {}

    /**
     * Writes the VDI in {@code format} (a delta against {@code base} when given) to {@code out};
     * returns the bytes written. {@code planned} receives the exact length before the first byte,
     * {@code progress} byte counts as they go.
     */
    public static long export(
            DiskStore store,
            String vdi,
            String format,
            Optional<String> base,
            OutputStream out,
            LongConsumer planned,
            LongConsumer progress)
            throws IOException {
        try (DiskStore.ExportView view = store.openForExport(vdi, base)) {
            ResponseBody body = StandardFormats.all().exportBody(format, view);
            planned.accept(body.length());
            ProgressOutput counting = new ProgressOutput(out, progress);
            body.writeRange(0, body.length(), counting);
            counting.flush();
            return body.length();
        }
    }

    /**
     * Reads a whole image in {@code format} into a staging copy of the VDI and swaps it in only when
     * the stream was complete and valid; on any failure the VDI is unchanged.
     *
     * @param length the stream's length, or -1 when unknown (VHD needs it)
     */
    public static void importInto(
            DiskStore store, String vdi, String format, InputStream in, long length, LongConsumer progress)
            throws IOException {
        DiskStore.DiskInfo disk = store.find(vdi);
        Formats.Importer importer = StandardFormats.all().importer(format);
        try (DiskStore.ImportTarget target = store.beginImport(vdi, false)) {
            try (org.thinsr.allocmap.BlockSink staging = StandardFormats.writeBehind(target.sink())) {
                importer.read(new ProgressInput(in, progress), length, disk.virtualSize(), staging);
                staging.flush(); // waits for every write: nothing may still be in flight below
            }
            target.sink().flush();
            target.commit();
        }
    }

    /** The names of the formats {@link #export} and {@link #importInto} accept. */
    public static String formats() {
        Formats formats = StandardFormats.all();
        return "export " + formats.exportFormats() + ", import " + formats.importFormats();
    }

    private static final class ProgressOutput extends OutputStream {
        private final OutputStream out;
        private final LongConsumer progress;

        ProgressOutput(OutputStream out, LongConsumer progress) {
            this.out = out;
            this.progress = progress;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            progress.accept(1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            out.write(bytes, offset, length);
            progress.accept(length);
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }
    }

    private static final class ProgressInput extends InputStream {
        private final InputStream in;
        private final LongConsumer progress;

        ProgressInput(InputStream in, LongConsumer progress) {
            this.in = in;
            this.progress = progress;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                progress.accept(1);
            }
            return b;
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            int n = in.read(bytes, offset, length);
            if (n > 0) {
                progress.accept(n);
            }
            return n;
        }
    }
}
