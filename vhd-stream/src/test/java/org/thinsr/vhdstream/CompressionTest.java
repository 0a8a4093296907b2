package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CompressionTest {
    @Test
    void everyCompressionRoundTripsAndIsDetectedByMagic() throws IOException {
        byte[] data = new byte[300_000];
        new Random(1).nextBytes(data);
        Arrays.fill(data, 1000, 200_000, (byte) 0);
        for (Compression compression : Compression.values()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (OutputStream out = compression.compress(bytes)) {
                out.write(data);
            }
            byte[] compressed = bytes.toByteArray();
            if (compression != Compression.NONE) {
                assertThat(compressed.length).isLessThan(data.length);
            }
            InputStream in = new BufferedInputStream(new ByteArrayInputStream(compressed));
            Compression detected = Compression.detect(in);
            assertThat(detected).isEqualTo(compression);
            assertThat(detected.decompress(in).readAllBytes()).isEqualTo(data);
            assertThat(Compression.ofLabel(compression.label())).isEqualTo(compression);
        }
    }

    @Test
    void damagedCompressedInputThrowsIoException() throws IOException {
        for (Compression compression : new Compression[] {Compression.GZIP, Compression.ZSTD}) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (OutputStream out = compression.compress(bytes)) {
                out.write(new byte[100_000]);
            }
            byte[] truncated = Arrays.copyOf(bytes.toByteArray(), bytes.size() / 2);
            assertThatThrownBy(() -> compression
                            .decompress(new ByteArrayInputStream(truncated))
                            .readAllBytes())
                    .as("%s", compression)
                    .isInstanceOf(IOException.class);
        }
    }

    @Test
    void shortInputsAreNotCompressed() throws IOException {
        assertThat(Compression.detect(new BufferedInputStream(new ByteArrayInputStream(new byte[] {0x1f}))))
                .isEqualTo(Compression.NONE);
        assertThat(Compression.detect(new BufferedInputStream(new ByteArrayInputStream(new byte[0]))))
                .isEqualTo(Compression.NONE);
    }
}
