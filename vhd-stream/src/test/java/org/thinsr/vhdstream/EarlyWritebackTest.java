package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EarlyWritebackTest {
    @TempDir
    Path dir;

    @Test
    void startsWritebackWhileTheFileIsWrittenAndStopsOnClose() throws Exception {
        Path file = dir.resolve("out");
        byte[] data = new byte[1 << 20];
        Arrays.fill(data, (byte) 7);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            EarlyWriteback writeback = EarlyWriteback.start(file, Duration.ofMillis(2));
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (writeback.kicks() < 3 && System.nanoTime() < deadline) {
                channel.write(ByteBuffer.wrap(data));
                Thread.sleep(1);
            }
            writeback.close();
            int afterClose = writeback.kicks();
            assertThat(afterClose).as("write-back started while writing").isGreaterThanOrEqualTo(3);
            channel.write(ByteBuffer.wrap(data));
            Thread.sleep(20);
            assertThat(writeback.kicks()).as("no kick after close").isEqualTo(afterClose);
        }
        assertThat(Files.size(file)).isPositive();
    }

    @Test
    void aFileThatGoesAwayEndsTheHintQuietlyAndTheSyscallNamesAMissingFile() throws Exception {
        Path file = dir.resolve("gone");
        Files.write(file, new byte[4096]);
        assertThat(FileExtents.startWriteback(file)).isTrue();
        EarlyWriteback writeback = EarlyWriteback.start(file, Duration.ofMillis(1));
        Files.delete(file);
        Thread.sleep(20);
        writeback.close();
        assertThatThrownBy(() -> FileExtents.startWriteback(file))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(file.toString());
    }
}
