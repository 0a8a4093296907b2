package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against the real thin-provisioning-tools: random pools are restored with {@code thin_restore},
 * dumped with {@code thin_dump} and parsed; our delta of every pair agrees with what {@code
 * thin_delta} (terse and {@code --verbose}) printed in the same run, run for run and byte for byte.
 */
class ThinToolsIT {
    private static final long TIMEOUT_SECONDS = 120;

    private static Path restore(Path dir, PoolGenerator pool) throws IOException {
        Path xml = dir.resolve("pool.xml");
        Files.writeString(xml, pool.toXml(), StandardCharsets.UTF_8);
        Path metadata = dir.resolve("meta.bin");
        try (RandomAccessFile file = new RandomAccessFile(metadata.toFile(), "rw")) {
            file.setLength(32L << 20);
        }
        Tools.check(
                List.of(
                        Tools.require("thin_restore", "thin-provisioning-tools"),
                        "-i",
                        xml.toString(),
                        "-o",
                        metadata.toString()),
                null,
                TIMEOUT_SECONDS);
        return metadata;
    }

    @Test
    void thinDumpOfRestoredRandomPoolsParsesToWhatWasPutIn(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        System.out.println("ThinToolsIT seed " + seed);
        Random random = new Random(seed);
        String thinDump = Tools.require("thin_dump", "thin-provisioning-tools");
        for (int round = 0; round < 3; round++) {
            PoolGenerator pool = PoolGenerator.generate(random, 2000 + random.nextInt(3000), 5);
            Path metadata = restore(dir, pool);
            Path dump = dir.resolve("dump.xml");
            Tools.check(List.of(thinDump, metadata.toString()), dump, TIMEOUT_SECONDS);
            ThinMetadata parsed = ThinDumpParser.create().parse(dump);
            assertThat(parsed.superblock().dataBlockSizeSectors()).isEqualTo(PoolGenerator.BLOCK_SIZE_SECTORS);
            assertThat(parsed.superblock().nrDataBlocks()).isEqualTo(pool.nrDataBlocks);
            assertThat(parsed.devices()).hasSize(pool.devices.size());
            for (PoolGenerator.Device device : pool.devices) {
                ThinDevice thin = parsed.device(device.devId());
                assertThat(ThinDumpParserTest.mappings(thin))
                        .as("seed %s device %s", seed, device.devId())
                        .isEqualTo(PoolGenerator.runsOf(device.data()));
                assertThat(thin.mappedBlocks()).isEqualTo(device.mappedBlocks());
                assertThat(thin.mappedBlockCount()).isEqualTo(device.mappedBlocks());
            }
            // one device extracted in one pass equals the same device dumped alone by thin_dump --dev-id
            long devId = pool.devices.get(random.nextInt(pool.devices.size())).devId();
            Path single = dir.resolve("single.xml");
            Tools.check(
                    List.of(thinDump, "--dev-id", Long.toString(devId), metadata.toString()), single, TIMEOUT_SECONDS);
            assertThat(ThinDumpParser.create().parse(dump, devId).devices())
                    .containsExactly(ThinDumpParser.create().parse(single).device(devId));
        }
    }

    @Test
    void ourDeltaOfEveryPairAgreesWithRealThinDeltaTerseAndVerbose(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        System.out.println("ThinToolsIT delta seed " + seed);
        Random random = new Random(seed);
        String thinDump = Tools.require("thin_dump", "thin-provisioning-tools");
        String thinDelta = Tools.require("thin_delta", "thin-provisioning-tools");
        PoolGenerator pool = PoolGenerator.generate(random, 3000, 4);
        Path metadata = restore(dir, pool);
        Path dump = dir.resolve("dump.xml");
        Tools.check(List.of(thinDump, metadata.toString()), dump, TIMEOUT_SECONDS);
        ThinMetadata parsed = ThinDumpParser.create().parse(dump);
        for (PoolGenerator.Device left : pool.devices) {
            for (PoolGenerator.Device right : pool.devices) {
                if (left == right) {
                    continue;
                }
                ThinDelta ours = ThinDelta.compute(parsed.device(left.devId()), parsed.device(right.devId()));
                List<String> snaps =
                        List.of("--snap1", Long.toString(left.devId()), "--snap2", Long.toString(right.devId()));
                Tools.Result terseOutput = runDelta(thinDelta, snaps, false, metadata);
                Tools.Result verboseOutput = runDelta(thinDelta, snaps, true, metadata);
                ThinDelta terse = ThinDeltaParser.parse(new ByteArrayInputStream(terseOutput.stdout()), "thin_delta");
                ThinDelta verbose =
                        ThinDeltaParser.parse(new ByteArrayInputStream(verboseOutput.stdout()), "thin_delta --verbose");
                StringBuilder ourTerse = new StringBuilder();
                ours.writeXml(parsed.superblock(), false, ourTerse);
                assertThat(ourTerse.toString()).isEqualTo(terseOutput.stdoutText());
                StringBuilder ourVerbose = new StringBuilder();
                ours.writeXml(parsed.superblock(), true, ourVerbose);
                assertThat(ourVerbose.toString()).isEqualTo(verboseOutput.stdoutText());
                assertThat(ours.terseRuns())
                        .as("seed %s: %s vs %s terse", seed, left.devId(), right.devId())
                        .isEqualTo(terse.runs());
                assertThat(ours.runs())
                        .as("seed %s: %s vs %s verbose", seed, left.devId(), right.devId())
                        .isEqualTo(verbose.runs());
                assertThat(ours.changedExtents()).isEqualTo(terse.changedExtents());
                assertThat(terse.leftDevId()).isEqualTo(left.devId());
                assertThat(terse.rightDevId()).isEqualTo(right.devId());
            }
        }
    }

    private static Tools.Result runDelta(String thinDelta, List<String> snaps, boolean verbose, Path metadata) {
        List<String> command = new java.util.ArrayList<>();
        command.add(thinDelta);
        if (verbose) {
            command.add("--verbose");
        }
        command.addAll(snaps);
        command.add(metadata.toString());
        return Tools.check(command, null, TIMEOUT_SECONDS);
    }
}
