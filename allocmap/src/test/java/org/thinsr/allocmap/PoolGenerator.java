package org.thinsr.allocmap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Random thin pools for tests: an origin device plus snapshots that share its data blocks and then
 * diverge (remapped, unmapped and newly mapped blocks), kept as a per-block model and printed as
 * {@code thin_dump}-style XML that {@code thin_restore} accepts.
 */
final class PoolGenerator {
    static final long BLOCK_SIZE_SECTORS = 128;

    /** One device: {@code data[originBlock]} is the mapped data block, or -1. */
    static final class Device {
        private final long devId;
        private final long[] data;

        Device(long devId, long[] data) {
            this.devId = devId;
            this.data = data;
        }

        long devId() {
            return devId;
        }

        long[] data() {
            return data;
        }

        long mappedBlocks() {
            return Arrays.stream(data).filter(block -> block >= 0).count();
        }
    }

    final long nrDataBlocks;
    final List<Device> devices = new ArrayList<>();
    private final Random random;
    private long nextFree;

    private PoolGenerator(Random random, long nrDataBlocks) {
        this.random = random;
        this.nrDataBlocks = nrDataBlocks;
    }

    /** A pool of {@code deviceCount} devices of {@code blocks} origin blocks each. */
    static PoolGenerator generate(Random random, int blocks, int deviceCount) {
        PoolGenerator pool = new PoolGenerator(random, 4L * blocks * deviceCount + 64);
        long[] origin = new long[blocks];
        Arrays.fill(origin, -1);
        pool.fill(origin, 0.6);
        pool.devices.add(new Device(1, origin));
        for (int id = 2; id <= deviceCount; id++) {
            long[] parent =
                    pool.devices.get(random.nextInt(pool.devices.size())).data();
            long[] snapshot = parent.clone();
            pool.diverge(snapshot);
            pool.devices.add(new Device(id, snapshot));
        }
        return pool;
    }

    /** Maps about {@code density} of the blocks, in runs, with fresh data blocks. */
    private void fill(long[] data, double density) {
        int block = 0;
        while (block < data.length) {
            int run = 1 + random.nextInt(8);
            boolean mapped = random.nextDouble() < density;
            long start = allocate(run);
            for (int i = 0; i < run && block < data.length; i++, block++) {
                if (mapped) {
                    data[block] = start + i;
                }
            }
        }
    }

    private void diverge(long[] data) {
        for (int block = 0; block < data.length; block++) {
            int dice = random.nextInt(10);
            if (dice == 0) {
                data[block] = -1;
            } else if (dice == 1) {
                // remap a run to fresh contiguous data
                int run = 1 + random.nextInt(4);
                long start = allocate(run);
                for (int i = 0; i < run && block < data.length; i++, block++) {
                    data[block] = start + i;
                }
            }
        }
    }

    private long allocate(int run) {
        long start = nextFree + random.nextInt(3);
        nextFree = start + run;
        if (nextFree > nrDataBlocks) {
            throw new IllegalStateException("generator ran out of data blocks");
        }
        return start;
    }

    Device device(long devId) {
        return devices.stream().filter(d -> d.devId() == devId).findFirst().orElseThrow();
    }

    /** The pool as thin_dump XML; contiguous runs are printed as range or single mappings at random. */
    String toXml() {
        StringBuilder xml = new StringBuilder();
        xml.append("<superblock uuid=\"\" time=\"3\" transaction=\"5\" flags=\"0\" version=\"2\" data_block_size=\"")
                .append(BLOCK_SIZE_SECTORS)
                .append("\" nr_data_blocks=\"")
                .append(nrDataBlocks)
                .append("\">\n");
        for (Device device : devices) {
            xml.append("  <device dev_id=\"")
                    .append(device.devId())
                    .append("\" mapped_blocks=\"")
                    .append(device.mappedBlocks())
                    .append("\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n");
            long[] data = device.data();
            int block = 0;
            while (block < data.length) {
                if (data[block] < 0) {
                    block++;
                    continue;
                }
                int end = block + 1;
                while (end < data.length && data[end] == data[end - 1] + 1 && random.nextInt(4) != 0) {
                    end++;
                }
                if (end - block == 1 && random.nextBoolean()) {
                    xml.append("    <single_mapping origin_block=\"")
                            .append(block)
                            .append("\" data_block=\"")
                            .append(data[block])
                            .append("\" time=\"0\"/>\n");
                } else {
                    xml.append("    <range_mapping origin_begin=\"")
                            .append(block)
                            .append("\" data_begin=\"")
                            .append(data[block])
                            .append("\" length=\"")
                            .append(end - block)
                            .append("\" time=\"0\"/>\n");
                }
                block = end;
            }
            xml.append("  </device>\n");
        }
        return xml.append("</superblock>\n").toString();
    }

    /** Coalesced runs (origin, data, length) of a per-block model, as the parser stores them. */
    static List<ThinDumpParserTest.Mapping> runsOf(long[] data) {
        List<ThinDumpParserTest.Mapping> runs = new ArrayList<>();
        int block = 0;
        while (block < data.length) {
            if (data[block] < 0) {
                block++;
                continue;
            }
            int end = block + 1;
            while (end < data.length && data[end] >= 0 && data[end] == data[end - 1] + 1) {
                end++;
            }
            runs.add(new ThinDumpParserTest.Mapping(block, data[block], end - block));
            block = end;
        }
        return runs;
    }

    /** The delta thin_delta --verbose would print, computed block by block from the model. */
    static List<ThinDelta.Run> verboseDeltaOf(long[] left, long[] right) {
        List<ThinDelta.Run> runs = new ArrayList<>();
        int blocks = Math.max(left.length, right.length);
        ThinDelta.Run current = null;
        for (int block = 0; block < blocks; block++) {
            long l = block < left.length ? left[block] : -1;
            long r = block < right.length ? right[block] : -1;
            ThinDelta.Kind kind;
            if (l >= 0 && r >= 0) {
                kind = l == r ? ThinDelta.Kind.SAME : ThinDelta.Kind.DIFFERENT;
            } else if (l >= 0) {
                kind = ThinDelta.Kind.LEFT_ONLY;
            } else if (r >= 0) {
                kind = ThinDelta.Kind.RIGHT_ONLY;
            } else {
                if (current != null) {
                    runs.add(current);
                    current = null;
                }
                continue;
            }
            if (current != null
                    && current.kind() == kind
                    && current.end() == block
                    && (l < 0 || current.leftDataBegin() + current.length() == l)
                    && (r < 0 || current.rightDataBegin() + current.length() == r)) {
                current = new ThinDelta.Run(
                        kind, current.begin(), current.length() + 1, current.leftDataBegin(), current.rightDataBegin());
            } else {
                if (current != null) {
                    runs.add(current);
                }
                current = new ThinDelta.Run(kind, block, 1, l, r);
            }
        }
        if (current != null) {
            runs.add(current);
        }
        return runs;
    }

    /** Adjacent runs of one kind merged, without data blocks. */
    static List<ThinDelta.Run> terse(List<ThinDelta.Run> verbose) {
        List<ThinDelta.Run> runs = new ArrayList<>();
        for (ThinDelta.Run run : verbose) {
            ThinDelta.Run last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
            if (last != null && last.kind() == run.kind() && last.end() == run.begin()) {
                runs.set(
                        runs.size() - 1,
                        new ThinDelta.Run(run.kind(), last.begin(), last.length() + run.length(), -1, -1));
            } else {
                runs.add(new ThinDelta.Run(run.kind(), run.begin(), run.length(), -1, -1));
            }
        }
        return runs;
    }
}
