package org.thinsr.vhdstream;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;

/**
 * Optional compression of a whole output stream and its detection on input (by magic, as xapi's
 * {@code /import} does): gzip (RFC 1952, magic {@code 1f 8b}) through commons-compress, zstd (RFC
 * 8878, frame magic {@code 28 b5 2f fd}) through zstd-jni. A compressed stream has no length known
 * in advance and no byte ranges.
 */
public enum Compression {
    NONE,
    GZIP,
    ZSTD;

    /** The CLI spelling: {@code none}, {@code gzip}, {@code zstd}. */
    public String label() {
        return switch (this) {
            case NONE -> "none";
            case GZIP -> "gzip";
            case ZSTD -> "zstd";
        };
    }

    /**
     * Wraps {@code out} so that bytes written are compressed; closing the result finishes the
     * compressed stream and closes {@code out}. {@link #NONE} returns {@code out} itself.
     */
    public OutputStream compress(OutputStream out) throws IOException {
        return switch (this) {
            case NONE -> out;
            case GZIP -> {
                GzipParameters parameters = new GzipParameters();
                parameters.setCompressionLevel(6);
                yield new GzipCompressorOutputStream(out, parameters);
            }
            case ZSTD -> new ZstdOutputStream(out, 3);
        };
    }

    /**
     * Wraps {@code in} so that reads return decompressed bytes; concatenated gzip members are read
     * as one stream. A damaged compressed stream throws {@link IOException} from the reads.
     */
    public InputStream decompress(InputStream in) throws IOException {
        return switch (this) {
            case NONE -> in;
            case GZIP ->
                GzipCompressorInputStream.builder()
                        .setInputStream(in)
                        .setDecompressConcatenated(true)
                        .get();
            case ZSTD -> new ZstdInputStream(in);
        };
    }

    /**
     * Detects the compression of {@code in} from its first bytes without consuming them ({@code
     * in} must support mark/reset, for example a {@link BufferedInputStream}).
     */
    public static Compression detect(InputStream in) throws IOException {
        if (!in.markSupported()) {
            throw new IllegalArgumentException("detection needs a stream that supports mark/reset");
        }
        byte[] magic = new byte[4];
        in.mark(magic.length);
        int read = in.readNBytes(magic, 0, magic.length);
        in.reset();
        if (read >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
            return GZIP;
        }
        if (read == 4
                && (magic[0] & 0xff) == 0x28
                && (magic[1] & 0xff) == 0xb5
                && (magic[2] & 0xff) == 0x2f
                && (magic[3] & 0xff) == 0xfd) {
            return ZSTD;
        }
        return NONE;
    }

    /** The inverse of {@link #label()}. */
    public static Compression ofLabel(String label) {
        for (Compression compression : values()) {
            if (compression.label().equals(label)) {
                return compression;
            }
        }
        throw new IllegalArgumentException("unknown compression '" + label + "', expected none, gzip or zstd");
    }
}
