package org.thinsr.httpexport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * The disk formats the service speaks, by their {@code format=} name: how to plan an export body
 * from an {@link DiskStore.ExportView}, and how to read an import body into a {@link BlockSink}.
 */
public final class Formats {
    /** Plans an export body. */
    @FunctionalInterface
    interface Exporter {
        ResponseBody plan(DiskStore.ExportView view) throws IOException;
    }

    /**
     * Reads a whole import body into {@code sink}, a fresh target that reads as zeros; throws on
     * anything short, long or corrupt. {@code declaredLength} is the body's Content-Length, or -1.
     */
    @FunctionalInterface
    interface Importer {
        void read(InputStream in, long declaredLength, long virtualSize, BlockSink sink) throws IOException;
    }

    private final Map<String, Exporter> exporters = new LinkedHashMap<>();
    private final Map<String, Importer> importers = new LinkedHashMap<>();

    /** Raw only; other formats are added with {@link #registerExporter} and {@link #registerImporter}. */
    public static Formats raw() {
        Formats formats = new Formats();
        formats.registerExporter("raw", view -> new RawBody(view.source(), view.map()));
        formats.registerImporter("raw", Formats::readRaw);
        return formats;
    }

    Formats registerExporter(String name, Exporter exporter) {
        exporters.put(name, exporter);
        return this;
    }

    Formats registerImporter(String name, Importer importer) {
        importers.put(name, importer);
        return this;
    }

    Set<String> exportFormats() {
        return exporters.keySet();
    }

    Set<String> importFormats() {
        return importers.keySet();
    }

    ResponseBody exportBody(String format, DiskStore.ExportView view) throws IOException {
        Exporter exporter = exporters.get(format);
        if (exporter == null) {
            throw new ThinsrException(
                    ErrorCode.UNSUPPORTED, "export format '" + format + "' is not one of " + exporters.keySet());
        }
        return exporter.plan(view);
    }

    Importer importer(String format) {
        Importer importer = importers.get(format);
        if (importer == null) {
            throw new ThinsrException(
                    ErrorCode.UNSUPPORTED, "import format '" + format + "' is not one of " + importers.keySet());
        }
        return importer;
    }

    /**
     * A raw body: the disk's bytes from offset 0, at most {@code virtualSize} of them. All-zero
     * blocks are not written, so the fresh target stays sparse; a shorter body leaves the rest of
     * the target reading as zeros.
     */
    static void readRaw(InputStream in, long declaredLength, long virtualSize, BlockSink sink) throws IOException {
        byte[] buffer = new byte[HttpApi.IO_BUFFER_BYTES];
        long offset = 0;
        while (true) {
            int n = in.readNBytes(buffer, 0, buffer.length);
            if (n == 0) {
                break;
            }
            if (offset + n > virtualSize) {
                throw new CorruptInputException("raw body: length: actual more than " + virtualSize
                        + " bytes, expected at most the disk's virtual size " + virtualSize);
            }
            if (!isZero(buffer, n)) {
                sink.write(offset, ByteBuffer.wrap(buffer, 0, n));
            }
            offset += n;
        }
    }

    static boolean isZero(byte[] buffer, int length) {
        ByteBuffer longs = ByteBuffer.wrap(buffer, 0, length);
        int i = 0;
        for (; i + 8 <= length; i += 8) {
            if (longs.getLong(i) != 0) {
                return false;
            }
        }
        for (; i < length; i++) {
            if (buffer[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
