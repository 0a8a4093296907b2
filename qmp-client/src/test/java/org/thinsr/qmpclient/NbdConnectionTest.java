package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.thinsr.qmpclient.NbdBytes.*;
import static org.thinsr.qmpclient.NbdProtocol.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.FileRegion;
import org.thinsr.qmpclient.ScriptedChannel.Script;

class NbdConnectionTest {
    static final long SIZE = 1 << 20;
    static final int FLAGS = TF_HAS_FLAGS
            | TF_SEND_FLUSH
            | TF_SEND_FUA
            | TF_SEND_TRIM
            | TF_SEND_WRITE_ZEROES
            | TF_SEND_FAST_ZERO
            | TF_CAN_MULTI_CONN;
    static final NbdConnection.Options OPTIONS = new NbdConnection.Options(8, Duration.ofSeconds(10));
    static final String BASE = "base:allocation";
    static final String DEPTH = "qemu:allocation-depth";

    /** Greeting, structured replies, two contexts with ids 7 and 3, GO with the infos in either order. */
    static Script handshake(boolean blockSizeFirst, int flags) {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
                .client(u32(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
                .client(option(OPT_STRUCTURED_REPLY, new byte[0]))
                .server(optionReply(OPT_STRUCTURED_REPLY, REP_ACK, new byte[0]))
                .client(option(OPT_SET_META_CONTEXT, metaContextData("disk", BASE, DEPTH)))
                .server(concat(
                        optionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, concat(u32(7), utf8(BASE))),
                        optionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, concat(u32(3), utf8(DEPTH))),
                        optionReply(OPT_SET_META_CONTEXT, REP_ACK, new byte[0])))
                .client(option(OPT_GO, goData("disk")));
        byte[] blockSize = optionReply(OPT_GO, REP_INFO, infoBlockSize(1, 4096, 32 << 20));
        byte[] export = optionReply(OPT_GO, REP_INFO, infoExport(SIZE, flags));
        script.server(concat(
                blockSizeFirst ? blockSize : export,
                optionReply(OPT_GO, REP_INFO, concat(u16(INFO_DESCRIPTION), utf8("a disk"))),
                blockSizeFirst ? export : blockSize,
                optionReply(OPT_GO, REP_ACK, new byte[0])));
        return script;
    }

    static NbdConnection connect(ScriptedChannel channel) throws IOException {
        return NbdConnection.negotiate(channel, "disk", List.of(BASE, DEPTH), OPTIONS);
    }

    /** A read of 4096 bytes at 8192 answered by data chunks out of order and a hole. */
    static Script readScript() {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_READ, 1, 8192, 4096))
                .server(concat(
                        chunk(0, CHUNK_OFFSET_DATA, 1, concat(u64(8192 + 3072), pattern(1024, 1))),
                        chunk(0, CHUNK_OFFSET_DATA, 1, concat(u64(8192), pattern(1024, 2))),
                        chunk(REPLY_FLAG_DONE, CHUNK_OFFSET_HOLE, 1, concat(u64(8192 + 1024), u32(2048)))))
                .client(request(0, CMD_DISC, 2, 0, 0))
                .server(new byte[0]);
        return script;
    }

    static byte[] expectedRead() {
        byte[] expected = new byte[4096];
        System.arraycopy(pattern(1024, 2), 0, expected, 0, 1024);
        System.arraycopy(pattern(1024, 1), 0, expected, 3072, 1024);
        return expected;
    }

    void runRead(ScriptedChannel channel, Script script) throws IOException {
        try (NbdConnection connection = connect(channel)) {
            assertThat(connection.info().size()).isEqualTo(SIZE);
            assertThat(connection.info().metaContexts()).isEqualTo(Map.of(7, BASE, 3, DEPTH));
            assertThat(connection.info().maximumPayload()).isEqualTo(32 << 20);
            ByteBuffer buffer = ByteBuffer.allocate(4096);
            Arrays.fill(buffer.array(), (byte) 0x55);
            connection.read(8192, buffer);
            assertThat(buffer.position()).isEqualTo(4096);
            assertThat(buffer.array()).isEqualTo(expectedRead());
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void handshakeAndStructuredReadSurviveEverySplitOfTheServerStream() throws IOException {
        Script script = readScript();
        for (int cut = 0; cut <= script.serverLength(); cut++) {
            runRead(new ScriptedChannel(script.steps(), Integer.MAX_VALUE, cut, false), script);
        }
    }

    @Test
    void handshakeAndStructuredReadWorkOneByteAtATime() throws IOException {
        Script script = readScript();
        runRead(new ScriptedChannel(script.steps(), 1, -1, false), script);
    }

    @Test
    void infoRepliesAreAcceptedInEitherOrder() throws IOException {
        Script script = handshake(false, FLAGS);
        script.client(request(0, CMD_DISC, 1, 0, 0)).server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            assertThat(connection.info().size()).isEqualTo(SIZE);
            assertThat(connection.info().preferredBlockSize()).isEqualTo(4096);
            assertThat(connection.info().canMultiConn()).isTrue();
            assertThat(connection.info().canFastZero()).isTrue();
            assertThat(connection.info().readOnly()).isFalse();
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void blockStatusClipsTheLastDescriptorAndMergesEqualNeighbours() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_BLOCK_STATUS, 1, 65536, 131072))
                .server(concat(
                        // depth first: contexts may answer in any order
                        chunk(0, CHUNK_BLOCK_STATUS, 1, concat(u32(3), u32(65536), u32(1), u32(1 << 20), u32(0))),
                        chunk(
                                REPLY_FLAG_DONE,
                                CHUNK_BLOCK_STATUS,
                                1,
                                concat(u32(7), u32(4096), u32(0), u32(4096), u32(0), u32(1 << 20), u32(3)))))
                .client(request(0, CMD_DISC, 2, 0, 0))
                .server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            Map<String, BlockStatusExtents> status = connection.blockStatus(65536, 131072);
            BlockStatusExtents base = status.get(BASE);
            assertThat(base.count()).isEqualTo(2);
            assertThat(List.of(base.start(0), base.end(0), (long) base.flags(0)))
                    .containsExactly(65536L, 73728L, 0L);
            assertThat(List.of(base.start(1), base.end(1), (long) base.flags(1)))
                    .containsExactly(73728L, 196608L, 3L);
            BlockStatusExtents depth = status.get(DEPTH);
            assertThat(depth.end()).isEqualTo(196608);
            assertThat(depth.end(0)).isEqualTo(131072);
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void statusRunsAskAgainWhereTheServerStoppedForEachContext() throws IOException {
        Script script = handshake(true, FLAGS);
        // first answer: base covers 64 KiB only, depth the whole export
        script.client(request(0, CMD_BLOCK_STATUS, 1, 0, SIZE))
                .server(concat(
                        chunk(0, CHUNK_BLOCK_STATUS, 1, concat(u32(7), u32(65536), u32(0))),
                        chunk(REPLY_FLAG_DONE, CHUNK_BLOCK_STATUS, 1, concat(u32(3), u32(SIZE), u32(1)))))
                .client(request(0, CMD_BLOCK_STATUS, 2, 65536, SIZE - 65536))
                .server(concat(
                        chunk(0, CHUNK_BLOCK_STATUS, 2, concat(u32(7), u32(SIZE - 65536), u32(3))),
                        chunk(REPLY_FLAG_DONE, CHUNK_BLOCK_STATUS, 2, concat(u32(3), u32(SIZE - 65536), u32(1)))))
                .client(request(0, CMD_DISC, 3, 0, 0))
                .server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            AllocationMap map = QemuAllocation.map(connection);
            assertThat(map.runs())
                    .extracting(Object::toString)
                    .containsExactly("[0, 65536) data local", "[65536, 1048576) zero local");
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void fileRegionsAreNotSentOverAChannelThatIsNotASocket() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_DISC, 1, 0, 0)).server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            assertThat(connection.writeRegions(0, List.of(FileRegion.zeros(4096)), false))
                    .as("the caller reads and writes instead")
                    .isFalse();
        }
        assertThat(channel.written())
                .as("nothing but the handshake and the disconnect")
                .isEqualTo(script.expectedClient());
    }

    @Test
    void slicesOfFileRegionsCutAtTheirBoundsAndKeepFileOffsets(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws IOException {
        java.nio.file.Path file = java.nio.file.Files.write(dir.resolve("f"), new byte[200]);
        try (java.nio.channels.FileChannel a = java.nio.channels.FileChannel.open(file)) {
            assertSlices(a);
        }
    }

    private static void assertSlices(java.nio.channels.FileChannel a) {
        List<FileRegion> regions = List.of(new FileRegion(a, 100, 10), FileRegion.zeros(5), new FileRegion(a, 7, 20));
        assertThat(NbdConnection.slice(regions, 0, 35)).isEqualTo(regions);
        assertThat(NbdConnection.slice(regions, 8, 10))
                .containsExactly(new FileRegion(a, 108, 2), FileRegion.zeros(5), new FileRegion(a, 7, 3));
        assertThat(NbdConnection.slice(regions, 15, 20)).containsExactly(new FileRegion(a, 7, 20));
        assertThat(NbdConnection.slice(regions, 11, 1)).containsExactly(FileRegion.zeros(1));
    }

    @Test
    void errorChunkBecomesNbdExceptionWithErrnoAndTheConnectionStaysUsable() throws IOException {
        Script script = handshake(true, FLAGS);
        byte[] message = utf8("injected EIO");
        script.client(request(0, CMD_READ, 1, 0, 512))
                .server(chunk(
                        REPLY_FLAG_DONE, CHUNK_ERROR_OFFSET, 1, concat(u32(5), u16(message.length), message, u64(256))))
                .client(request(0, CMD_FLUSH, 2, 0, 0))
                .server(simpleReply(0, 2))
                .client(request(0, CMD_WRITE_ZEROES, 3, 0, 4096))
                .server(simpleReply(28, 3))
                .client(request(0, CMD_DISC, 4, 0, 0))
                .server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            assertThatThrownBy(() -> connection.read(0, ByteBuffer.allocate(512)))
                    .isInstanceOfSatisfying(NbdException.class, e -> {
                        assertThat(e.errno()).isEqualTo(5);
                        assertThat(e.errnoName()).isEqualTo("EIO");
                    })
                    .hasMessageContaining("injected EIO")
                    .hasMessageContaining("at offset 256");
            connection.flush();
            assertThatThrownBy(() -> connection.writeZeroes(0, 4096, false))
                    .isInstanceOfSatisfying(
                            NbdException.class, e -> assertThat(e.errnoName()).isEqualTo("ENOSPC"));
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void repliesInFlightAreMatchedByCookieInAnyOrder() throws Exception {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_READ, 1, 0, 512))
                .client(request(0, CMD_READ, 2, 512, 512))
                .server(concat(
                        chunk(REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, 2, concat(u64(512), pattern(512, 2))),
                        chunk(REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, 1, concat(u64(0), pattern(512, 1)))))
                .client(request(0, CMD_DISC, 3, 0, 0))
                .server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            ByteBuffer first = ByteBuffer.allocate(512);
            ByteBuffer second = ByteBuffer.allocate(512);
            CompletableFuture<Void> a = connection.readAsync(0, first);
            CompletableFuture<Void> b = connection.readAsync(512, second);
            CompletableFuture.allOf(a, b).get();
            assertThat(first.array()).isEqualTo(pattern(512, 1));
            assertThat(second.array()).isEqualTo(pattern(512, 2));
        }
    }

    @Test
    void serverClosingMidReplyFailsTheRequestWithoutHanging() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_READ, 1, 0, 4096))
                .server(concat(chunkHeader(0, CHUNK_OFFSET_DATA, 1, 8 + 4096), u64(0), pattern(100, 0)));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.read(0, ByteBuffer.allocate(4096)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("closed the connection");
            assertThatThrownBy(() -> connection.flush()).hasMessageContaining("dead");
        }
    }

    @Test
    void dataChunkLongerThanTheRequestIsRejectedBeforeReading() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_READ, 1, 0, 4096))
                .server(chunkHeader(REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, 1, 0xfffffff0L));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.read(0, ByteBuffer.allocate(4096)))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("OFFSET_DATA length: actual 4294967280, expected in [9, 4104]");
        }
    }

    @Test
    void dataChunkOutsideTheRequestIsRejected() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_READ, 1, 4096, 4096))
                .server(chunk(REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, 1, concat(u64(6144), pattern(4096, 0))));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.read(4096, ByteBuffer.allocate(4096)))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("outside the request");
        }
    }

    @Test
    void readNotFullyCoveredIsNeverReportedAsSuccess() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_READ, 1, 0, 4096))
                .server(chunk(REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, 1, concat(u64(0), pattern(2048, 0))));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.read(0, ByteBuffer.allocate(4096)))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("bytes covered by data and hole chunks: actual 2048, expected 4096");
        }
    }

    @Test
    void tooManyBlockStatusDescriptorsAreRejected() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_BLOCK_STATUS, 1, 0, SIZE))
                .server(chunkHeader(REPLY_FLAG_DONE, CHUNK_BLOCK_STATUS, 1, 4 + 8L * (MAX_DESCRIPTORS + 1)));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.blockStatus(0, SIZE))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("BLOCK_STATUS length");
        }
    }

    @Test
    void descriptorPastTheRequestBeforeTheLastIsRejected() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_BLOCK_STATUS, 1, 0, 4096))
                .server(chunk(
                        REPLY_FLAG_DONE, CHUNK_BLOCK_STATUS, 1, concat(u32(7), u32(8192), u32(0), u32(4096), u32(3))));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.blockStatus(0, 4096))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("only the last descriptor may pass the request end");
        }
    }

    @Test
    void blockStatusMissingAContextChunkIsRejected() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_BLOCK_STATUS, 1, 0, 4096))
                .server(chunk(REPLY_FLAG_DONE, CHUNK_BLOCK_STATUS, 1, concat(u32(7), u32(4096), u32(0))));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(() -> connection.blockStatus(0, 4096))
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("one per selected context");
        }
    }

    @Test
    void replyWithAnUnknownCookieIsRejected() throws IOException {
        Script script = handshake(true, FLAGS);
        script.client(request(0, CMD_FLUSH, 1, 0, 0)).server(simpleReply(0, 99));
        try (NbdConnection connection = connect(ScriptedChannel.of(script))) {
            assertThatThrownBy(connection::flush)
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("cookie: actual 99");
        }
    }

    @Test
    void oversizeOptionReplyIsRejectedWithoutAllocating() {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE))
                .client(u32(FLAG_FIXED_NEWSTYLE))
                .client(option(OPT_STRUCTURED_REPLY, new byte[0]))
                .server(concat(u64(OPTION_REPLY_MAGIC), u32(OPT_STRUCTURED_REPLY), u32(REP_ACK), u32(0x7fffffff)));
        assertThatThrownBy(() -> connect(ScriptedChannel.of(script)))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("length: actual 2147483647, expected at most 65536");
    }

    @Test
    void refusedExportBecomesNbdExceptionWithTheServerMessage() {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE))
                .client(u32(FLAG_FIXED_NEWSTYLE))
                .client(option(OPT_STRUCTURED_REPLY, new byte[0]))
                .server(optionReply(OPT_STRUCTURED_REPLY, REP_ACK, new byte[0]))
                .client(option(OPT_SET_META_CONTEXT, metaContextData("disk", BASE, DEPTH)))
                .server(optionReply(OPT_SET_META_CONTEXT, REP_ACK, new byte[0]))
                .client(option(OPT_GO, goData("disk")))
                .server(optionReply(OPT_GO, REP_FLAG_ERROR | 6, utf8("export 'disk' not present")));
        assertThatThrownBy(() -> connect(ScriptedChannel.of(script)))
                .isInstanceOfSatisfying(
                        NbdException.class, e -> assertThat(e.errno()).isEqualTo(REP_FLAG_ERROR | 6))
                .hasMessageContaining("NBD_REP_ERR_UNKNOWN")
                .hasMessageContaining("export 'disk' not present");
    }

    @Test
    void oldServerWithoutStructuredRepliesOrGoStillReadsWithSimpleReplies() throws IOException {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE))
                .client(u32(FLAG_FIXED_NEWSTYLE))
                .client(option(OPT_STRUCTURED_REPLY, new byte[0]))
                .server(optionReply(OPT_STRUCTURED_REPLY, REP_ERR_UNSUP, new byte[0]))
                .client(option(OPT_GO, goData("disk")))
                .server(optionReply(OPT_GO, REP_ERR_UNSUP, new byte[0]))
                .client(option(OPT_EXPORT_NAME, utf8("disk")))
                .server(concat(u64(SIZE), u16(TF_HAS_FLAGS | TF_READ_ONLY), new byte[124]))
                .client(request(0, CMD_READ, 1, 1024, 1024))
                .server(concat(simpleReply(0, 1), pattern(1024, 9)))
                .client(request(0, CMD_DISC, 2, 0, 0))
                .server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            assertThat(connection.info().structuredReplies()).isFalse();
            assertThat(connection.info().metaContexts()).isEmpty();
            assertThat(connection.info().readOnly()).isTrue();
            ByteBuffer buffer = ByteBuffer.allocate(1024);
            connection.read(1024, buffer);
            assertThat(buffer.array()).isEqualTo(pattern(1024, 9));
            assertThatThrownBy(() -> connection.write(0, ByteBuffer.allocate(512), false))
                    .isInstanceOf(NbdException.class)
                    .hasMessageContaining("read-only");
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void serverThatNeverAnswersTimesOutInsteadOfHanging() throws IOException {
        Script script = handshake(true, FLAGS);
        ScriptedChannel channel = new ScriptedChannel(script.steps(), Integer.MAX_VALUE, -1, true);
        NbdConnection connection = NbdConnection.negotiate(
                channel, "disk", List.of(BASE, DEPTH), new NbdConnection.Options(4, Duration.ofMillis(300)));
        long start = System.nanoTime();
        assertThatThrownBy(connection::flush).hasMessageContaining("no reply to NBD_CMD_FLUSH");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        connection.close();
    }

    @Test
    void writeSendsThePayloadAndFuaOnlyWhenOffered() throws IOException {
        Script script = handshake(true, FLAGS);
        byte[] payload = pattern(1000, 4);
        script.client(concat(request(CMD_FLAG_FUA, CMD_WRITE, 1, 4096, 1000), payload))
                .server(chunk(REPLY_FLAG_DONE, CHUNK_NONE, 1, new byte[0]))
                .client(request(CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 2, 0, 8192))
                .server(simpleReply(0, 2))
                .client(request(0, CMD_TRIM, 3, 8192, 4096))
                .server(simpleReply(0, 3))
                .client(request(0, CMD_DISC, 4, 0, 0))
                .server(new byte[0]);
        ScriptedChannel channel = ScriptedChannel.of(script);
        try (NbdConnection connection = connect(channel)) {
            connection.write(4096, ByteBuffer.wrap(payload), true);
            connection.writeZeroes(0, 8192, true);
            connection.trim(8192, 4096);
        }
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void listMetaContextsReturnsEveryNameTheServerOffersForTheQuery() throws IOException {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE))
                .client(u32(FLAG_FIXED_NEWSTYLE))
                .client(option(OPT_LIST_META_CONTEXT, metaContextData("disk", "qemu:dirty-bitmap:")))
                .server(concat(
                        optionReply(
                                OPT_LIST_META_CONTEXT, REP_META_CONTEXT, concat(u32(0), utf8("qemu:dirty-bitmap:b1"))),
                        optionReply(
                                OPT_LIST_META_CONTEXT, REP_META_CONTEXT, concat(u32(0), utf8("qemu:dirty-bitmap:b2"))),
                        optionReply(OPT_LIST_META_CONTEXT, REP_ACK, new byte[0])));
        ScriptedChannel channel = ScriptedChannel.of(script);
        NbdHandshake handshake = NbdHandshake.start(channel);
        assertThat(handshake.listMetaContexts("disk", List.of("qemu:dirty-bitmap:")))
                .containsExactlyInAnyOrder("qemu:dirty-bitmap:b1", "qemu:dirty-bitmap:b2");
        assertThat(channel.written()).isEqualTo(script.expectedClient());
    }

    @Test
    void duplicateContextIdsInSetMetaContextAreRejected() {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE))
                .client(u32(FLAG_FIXED_NEWSTYLE))
                .client(option(OPT_STRUCTURED_REPLY, new byte[0]))
                .server(optionReply(OPT_STRUCTURED_REPLY, REP_ACK, new byte[0]))
                .client(option(OPT_SET_META_CONTEXT, metaContextData("disk", BASE, DEPTH)))
                .server(concat(
                        optionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, concat(u32(1), utf8(BASE))),
                        optionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, concat(u32(1), utf8(DEPTH)))));
        assertThatThrownBy(() -> connect(ScriptedChannel.of(script)))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("context id 1");
    }

    @Test
    void serverThatNeverGreetsFailsTheHandshakeAfterTheTimeout() {
        ScriptedChannel silent = new ScriptedChannel(List.of(), Integer.MAX_VALUE, -1, true);
        long start = System.nanoTime();
        assertThatThrownBy(() -> NbdConnection.negotiate(
                        silent, "disk", List.of(BASE), new NbdConnection.Options(4, Duration.ofMillis(300))))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("did not finish the handshake within PT0.3S");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(silent.isOpen()).isFalse();
    }

    @Test
    void serverThatStallsMidHandshakeFailsAfterTheTimeout() {
        Script script = new Script();
        script.server(greeting(FLAG_FIXED_NEWSTYLE)).client(u32(FLAG_FIXED_NEWSTYLE));
        ScriptedChannel stalled = new ScriptedChannel(script.steps(), Integer.MAX_VALUE, -1, true);
        assertThatThrownBy(() -> NbdConnection.negotiate(
                        stalled, "disk", List.of(BASE), new NbdConnection.Options(4, Duration.ofMillis(300))))
                .hasMessageContaining("did not finish the handshake");
    }
}
