package org.thinsr.vhdstream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.time.Instant;
import java.util.Random;
import java.util.UUID;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;

/** Small disks and their VHDs for unit tests. */
final class TestImages {
    static final int MIB = 1 << 20;
    static final Instant TIME = Instant.parse("2026-01-02T03:04:05Z");

    private TestImages() {}

    /** A disk of {@code size} bytes with random bytes in {@code data} and zeros elsewhere. */
    static byte[] disk(int size, ExtentSet data, long seed) {
        byte[] disk = new byte[size];
        Random random = new Random(seed);
        for (int i = 0; i < data.size(); i++) {
            for (long b = data.start(i); b < data.end(i); b++) {
                disk[(int) b] = (byte) (random.nextInt(255) + 1);
            }
        }
        return disk;
    }

    static VhdOptions options(VhdDiskType type) {
        UUID id = new UUID(0x1234, 0x5678);
        return switch (type) {
            case FIXED -> VhdOptions.fixed(TIME).withUniqueId(id);
            case DYNAMIC -> VhdOptions.dynamic(TIME).withUniqueId(id);
            case DIFFERENCING ->
                VhdOptions.differencing(
                                new VhdParent(
                                        new UUID(7, 8),
                                        TIME,
                                        "parent.vhd",
                                        java.util.List.of(
                                                new VhdParent.Locator(
                                                        VhdParentLocator.PLATFORM_W2KU, "C:\\vhd\\parent.vhd"),
                                                new VhdParent.Locator(
                                                        VhdParentLocator.PLATFORM_MACX, "file:///vhd/parent.vhd"))),
                                TIME)
                        .withUniqueId(id);
        };
    }

    /** The whole VHD of {@code disk} described by {@code map}. */
    static byte[] vhd(byte[] disk, AllocationMap map, VhdOptions options) throws IOException {
        ByteArraySource source = new ByteArraySource(disk);
        VhdLayout layout = VhdLayout.plan(map, options, source);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new VhdWriter(layout, source).write(out);
        return out.toByteArray();
    }

    /** A channel over {@code data} that returns at most {@code maxRead} bytes a read and stops at every cut. */
    static ReadableByteChannel channel(byte[] data, int maxRead, long... cuts) {
        return new ReadableByteChannel() {
            private int position;
            private boolean open = true;

            @Override
            public int read(ByteBuffer dst) {
                if (position >= data.length) {
                    return -1;
                }
                int n = Math.min(Math.min(dst.remaining(), maxRead), data.length - position);
                for (long cut : cuts) {
                    if (cut > position && cut < position + n) {
                        n = (int) (cut - position);
                    }
                }
                dst.put(data, position, n);
                position += n;
                return n;
            }

            @Override
            public boolean isOpen() {
                return open;
            }

            @Override
            public void close() {
                open = false;
            }
        };
    }
}
