package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ReadAheadWriteBehindTest {
    private final ExecutorService pool = Executors.newFixedThreadPool(4);

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** A thread-safe in-memory disk that can fail at one offset. */
    static class Disk implements BlockSource, BlockSink {
        final byte[] bytes;
        volatile long failAt = -1;

        Disk(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public synchronized void readFully(long offset, ByteBuffer buffer) throws IOException {
            if (failAt >= offset && failAt < offset + buffer.remaining()) {
                throw new IOException("injected read failure at " + failAt);
            }
            buffer.put(bytes, (int) offset, buffer.remaining());
        }

        @Override
        public synchronized void write(long offset, ByteBuffer buffer) throws IOException {
            if (failAt >= offset && failAt < offset + buffer.remaining()) {
                throw new IOException("injected write failure at " + failAt);
            }
            buffer.get(bytes, (int) offset, buffer.remaining());
        }

        @Override
        public synchronized void writeZeroes(long offset, long length) {
            Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    @Test
    void readAheadReturnsExactlyTheDelegatesBytesForAnyRequests() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        System.out.println("ReadAheadWriteBehindTest seed " + seed);
        byte[] content = new byte[1 << 20];
        random.nextBytes(content);
        ExtentSet.Builder plan = ExtentSet.builder();
        for (int i = 0; i < 20; i++) {
            long start = random.nextInt(content.length);
            plan.add(start, Math.min(content.length, start + random.nextInt(100_000)));
        }
        ExtentSet planned = plan.build();
        try (ReadAheadSource source = new ReadAheadSource(new Disk(content), planned, 4096, 4, pool, true)) {
            for (int i = 0; i < planned.size(); i++) {
                long offset = planned.start(i);
                while (offset < planned.end(i)) {
                    int length = (int) Math.min(planned.end(i) - offset, 1 + random.nextInt(20_000));
                    ByteBuffer buffer = ByteBuffer.allocate(length);
                    source.readFully(offset, buffer);
                    assertThat(buffer.array())
                            .isEqualTo(Arrays.copyOfRange(content, (int) offset, (int) offset + length));
                    offset += length;
                }
            }
            ByteBuffer backwards = ByteBuffer.allocate(100);
            source.readFully(0, backwards);
            assertThat(backwards.array()).isEqualTo(Arrays.copyOfRange(content, 0, 100));
        }
    }

    @Test
    void readAheadFailureReachesTheReader() {
        Disk disk = new Disk(new byte[65536]);
        disk.failAt = 40_000;
        ReadAheadSource source = new ReadAheadSource(disk, ExtentSet.of(0, 65536), 4096, 8, pool, true);
        assertThatThrownBy(() -> {
                    for (int offset = 0; offset < 65536; offset += 4096) {
                        source.readFully(offset, ByteBuffer.allocate(4096));
                    }
                })
                .isInstanceOf(IOException.class)
                .hasMessageContaining("40000");
    }

    @Test
    void writeBehindEndsWithTheSequentialContentEvenWithOverlaps() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        System.out.println("ReadAheadWriteBehindTest seed " + seed);
        byte[] expected = new byte[200_000];
        Disk disk = new Disk(new byte[expected.length]);
        try (WriteBehindSink sink = new WriteBehindSink(disk, 8, pool, true)) {
            for (int i = 0; i < 2000; i++) {
                int offset = random.nextInt(expected.length - 1);
                int length = 1 + random.nextInt(Math.min(5000, expected.length - offset));
                if (random.nextInt(5) == 0) {
                    Arrays.fill(expected, offset, offset + length, (byte) 0);
                    sink.writeZeroes(offset, length);
                } else {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    System.arraycopy(data, 0, expected, offset, length);
                    if (random.nextBoolean()) {
                        sink.write(offset, ByteBuffer.wrap(data));
                    } else {
                        sink.writeRetained(offset, ByteBuffer.wrap(data)); // data is never changed
                    }
                }
            }
            sink.flush();
        }
        assertThat(disk.bytes).isEqualTo(expected);
    }

    @Test
    void writeRetainedHandsTheCallersBytesOnWithoutACopy() throws Exception {
        List<ByteBuffer> received = Collections.synchronizedList(new ArrayList<>());
        BlockSink recorder = new Disk(new byte[65536]) {
            @Override
            public synchronized void write(long offset, ByteBuffer buffer) throws IOException {
                received.add(buffer.duplicate());
                super.write(offset, buffer);
            }
        };
        byte[] retained = new byte[8192];
        Arrays.fill(retained, (byte) 7);
        ByteBuffer caller = ByteBuffer.wrap(retained, 100, 4000);
        try (WriteBehindSink sink = new WriteBehindSink(recorder, 4, pool, true)) {
            sink.writeRetained(512, caller);
            assertThat(caller.hasRemaining()).as("consumed like write").isFalse();
            sink.write(16384, ByteBuffer.wrap(retained, 0, 4096));
            sink.flush();
        }
        assertThat(received).hasSize(2);
        ByteBuffer kept =
                received.stream().filter(ByteBuffer::hasArray).findFirst().orElseThrow();
        assertThat(kept.array()).as("the retained write's own array").isSameAs(retained);
        assertThat(kept.arrayOffset() + kept.position()).isEqualTo(100);
        assertThat(kept.remaining()).isEqualTo(4000);
        assertThat(received.stream().filter(b -> !b.hasArray()).count())
                .as("a plain write is copied into a direct buffer of the sink's")
                .isEqualTo(1);
    }

    @Test
    void writeBehindFailureIsThrownByFlush() throws Exception {
        Disk disk = new Disk(new byte[65536]);
        disk.failAt = 10_000;
        WriteBehindSink sink = new WriteBehindSink(disk, 4, pool, true);
        sink.write(8192, ByteBuffer.allocate(4096));
        assertThatThrownBy(sink::flush).isInstanceOf(IOException.class).hasMessageContaining("10000");
    }
}
