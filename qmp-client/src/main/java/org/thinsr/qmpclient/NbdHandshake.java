package org.thinsr.qmpclient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.thinsr.allocmap.CorruptInputException;

/**
 * The client side of NBD fixed newstyle negotiation (proto.md "Fixed newstyle negotiation"), one
 * option at a time: each option's final reply is read before the next option is sent.
 *
 * <pre>
 * S: u64 NBDMAGIC | u64 IHAVEOPT | u16 flags (FIXED_NEWSTYLE, NO_ZEROES)
 * C: u32 flags (C_FIXED_NEWSTYLE, C_NO_ZEROES if offered)
 * C: u64 IHAVEOPT | u32 option | u32 length | data            (repeated)
 * S: u64 0x3e889045565a9 | u32 option | u32 type | u32 length | data   (one or more per option)
 * GO data:           u32 namelen | name | u16 n | u16 info[n]
 * INFO_EXPORT:       u16 0 | u64 size | u16 transmission flags
 * INFO_BLOCK_SIZE:   u16 3 | u32 minimum | u32 preferred | u32 maximum
 * SET/LIST_META_CONTEXT data: u32 namelen | name | u32 n | { u32 len | query }*
 * REP_META_CONTEXT:  u32 context id | name
 * </pre>
 *
 * <p>Every reply length is bounded ({@value NbdProtocol#MAX_OPTION_REPLY} bytes) before anything is
 * allocated. Not thread-safe; the channel is closed by whoever owns it (the {@link NbdConnection}
 * after {@link #go}).
 */
public final class NbdHandshake {
    private final ByteChannel channel;
    private final boolean noZeroes;
    private boolean structuredReplies;
    private Map<Integer, String> metaContexts = Map.of();
    private boolean finished;

    private NbdHandshake(ByteChannel channel, boolean noZeroes) {
        this.channel = channel;
        this.noZeroes = noZeroes;
    }

    /** Reads the server greeting and sends the client flags. */
    public static NbdHandshake start(ByteChannel channel) throws IOException {
        ByteBuffer greeting = ByteBuffer.allocate(18);
        Wire.readFully(channel, greeting.limit(16), "the NBD greeting");
        long magic = greeting.getLong(0);
        if (magic != NbdProtocol.NBDMAGIC) {
            throw CorruptInputException.of(
                    "NBD greeting", "magic", hex(magic), hex(NbdProtocol.NBDMAGIC) + " (NBDMAGIC)");
        }
        long second = greeting.getLong(8);
        if (second == NbdProtocol.OLDSTYLE_MAGIC) {
            throw new CorruptInputException(
                    "NBD greeting: the server speaks the oldstyle protocol, expected fixed" + " newstyle (IHAVEOPT)");
        }
        if (second != NbdProtocol.IHAVEOPT) {
            throw CorruptInputException.of(
                    "NBD greeting", "second magic", hex(second), hex(NbdProtocol.IHAVEOPT) + " (IHAVEOPT)");
        }
        Wire.readFully(channel, greeting.limit(18).position(16), "the NBD handshake flags");
        int flags = Short.toUnsignedInt(greeting.getShort(16));
        if ((flags & NbdProtocol.FLAG_FIXED_NEWSTYLE) == 0) {
            throw CorruptInputException.of(
                    "NBD greeting", "handshake flags", "0x" + Integer.toHexString(flags), "FIXED_NEWSTYLE (bit 0) set");
        }
        boolean noZeroes = (flags & NbdProtocol.FLAG_NO_ZEROES) != 0;
        int clientFlags = NbdProtocol.FLAG_FIXED_NEWSTYLE | (noZeroes ? NbdProtocol.FLAG_NO_ZEROES : 0);
        Wire.writeFully(channel, ByteBuffer.allocate(4).putInt(0, clientFlags));
        return new NbdHandshake(channel, noZeroes);
    }

    /**
     * Asks for structured replies ({@code NBD_OPT_STRUCTURED_REPLY}); needed for block status.
     *
     * @return whether the server agreed ({@code false} on {@code NBD_REP_ERR_UNSUP})
     */
    public boolean structuredReply() throws IOException {
        checkOpen();
        sendOption(NbdProtocol.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0));
        Reply reply = readReply(NbdProtocol.OPT_STRUCTURED_REPLY);
        if (reply.type == NbdProtocol.REP_ACK) {
            expectEmpty(reply, NbdProtocol.OPT_STRUCTURED_REPLY);
            structuredReplies = true;
            return true;
        }
        if (reply.type == NbdProtocol.REP_ERR_UNSUP) {
            return false;
        }
        throw unexpected(reply, NbdProtocol.OPT_STRUCTURED_REPLY);
    }

    /**
     * Lists the meta contexts matching {@code queries} ({@code "qemu:dirty-bitmap:"} lists every
     * exported bitmap; no query lists every context).
     */
    public List<String> listMetaContexts(String exportName, List<String> queries) throws IOException {
        return new ArrayList<>(metaContextOption(NbdProtocol.OPT_LIST_META_CONTEXT, exportName, queries)
                .values());
    }

    /**
     * Selects the meta contexts for block status; replaces any previous selection. Needs structured
     * replies. Contexts the server does not know are silently not selected.
     *
     * @return the selected contexts, id to name
     */
    public Map<Integer, String> setMetaContexts(String exportName, List<String> queries) throws IOException {
        if (!structuredReplies) {
            throw new IllegalStateException("meta contexts need structured replies: call structuredReply() first");
        }
        metaContexts = metaContextOption(NbdProtocol.OPT_SET_META_CONTEXT, exportName, queries);
        return metaContexts;
    }

    private Map<Integer, String> metaContextOption(int option, String exportName, List<String> queries)
            throws IOException {
        checkOpen();
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        List<byte[]> encoded = new ArrayList<>();
        int length = 4 + name.length + 4;
        for (String query : queries) {
            byte[] bytes = query.getBytes(StandardCharsets.UTF_8);
            if (bytes.length > NbdProtocol.MAX_NAME) {
                throw new IllegalArgumentException("meta context query is " + bytes.length + " bytes, at most "
                        + NbdProtocol.MAX_NAME + ": " + query);
            }
            encoded.add(bytes);
            length += 4 + bytes.length;
        }
        ByteBuffer data = ByteBuffer.allocate(length);
        data.putInt(name.length).put(name).putInt(encoded.size());
        for (byte[] bytes : encoded) {
            data.putInt(bytes.length).put(bytes);
        }
        sendOption(option, data.flip());
        Map<Integer, String> contexts = new HashMap<>();
        while (true) {
            Reply reply = readReply(option);
            if (reply.type == NbdProtocol.REP_ACK) {
                expectEmpty(reply, option);
                return contexts;
            }
            if (reply.type == NbdProtocol.REP_ERR_UNSUP) {
                return Map.of();
            }
            if (reply.type != NbdProtocol.REP_META_CONTEXT) {
                throw unexpected(reply, option);
            }
            if (reply.data.remaining() < 4) {
                throw CorruptInputException.of(
                        NbdProtocol.optionName(option) + " reply",
                        "NBD_REP_META_CONTEXT length",
                        reply.data.remaining(),
                        "at least 4");
            }
            int id = reply.data.getInt();
            String contextName = utf8(reply.data);
            if (contexts.size() >= 1024) {
                throw CorruptInputException.of(
                        NbdProtocol.optionName(option) + " reply",
                        "number of meta contexts",
                        "more than 1024",
                        "at most 1024");
            }
            if (option == NbdProtocol.OPT_SET_META_CONTEXT && contexts.containsKey(id)) {
                throw CorruptInputException.of(
                        "NBD_OPT_SET_META_CONTEXT reply",
                        "context id " + id + " for '" + contextName + "'",
                        "already used by '" + contexts.get(id) + "'",
                        "a unique id");
            }
            contexts.put(option == NbdProtocol.OPT_SET_META_CONTEXT ? id : contexts.size(), contextName);
        }
    }

    /**
     * Selects the export with {@code NBD_OPT_GO} (asking for {@code NBD_INFO_BLOCK_SIZE}), falling
     * back to {@code NBD_OPT_EXPORT_NAME} on a server that does not know GO, and enters transmission.
     *
     * @return the connection, which now owns the channel
     * @throws NbdException when the server refuses the export (unknown name, policy, ...)
     */
    public NbdConnection go(String exportName, NbdConnection.Options options) throws IOException {
        checkOpen();
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer data = ByteBuffer.allocate(4 + name.length + 2 + 2);
        data.putInt(name.length).put(name).putShort((short) 1).putShort((short) NbdProtocol.INFO_BLOCK_SIZE);
        sendOption(NbdProtocol.OPT_GO, data.flip());
        long size = -1;
        int flags = 0;
        int minimum = 1;
        int preferred = 4096;
        int maximum = NbdProtocol.DEFAULT_MAX_BLOCK;
        while (true) {
            Reply reply = readReply(NbdProtocol.OPT_GO);
            if (reply.type == NbdProtocol.REP_ACK) {
                expectEmpty(reply, NbdProtocol.OPT_GO);
                break;
            }
            if (reply.type == NbdProtocol.REP_ERR_UNSUP) {
                return exportNameFallback(exportName, name, options);
            }
            if (reply.type != NbdProtocol.REP_INFO) {
                throw unexpected(reply, NbdProtocol.OPT_GO);
            }
            if (reply.data.remaining() < 2) {
                throw CorruptInputException.of(
                        "NBD_OPT_GO reply", "NBD_REP_INFO length", reply.data.remaining(), "at least 2");
            }
            int infoType = Short.toUnsignedInt(reply.data.getShort());
            switch (infoType) {
                case NbdProtocol.INFO_EXPORT -> {
                    expectInfoLength(reply, 10, "NBD_INFO_EXPORT");
                    size = reply.data.getLong();
                    flags = Short.toUnsignedInt(reply.data.getShort());
                }
                case NbdProtocol.INFO_BLOCK_SIZE -> {
                    expectInfoLength(reply, 12, "NBD_INFO_BLOCK_SIZE");
                    minimum = reply.data.getInt();
                    preferred = reply.data.getInt();
                    maximum = reply.data.getInt();
                    checkBlockSizes(minimum, preferred, maximum);
                }
                default -> {
                    // NBD_INFO_NAME, NBD_INFO_DESCRIPTION and future types are informational only.
                }
            }
        }
        if (size < 0) {
            throw CorruptInputException.of(
                    "NBD_OPT_GO reply",
                    "export size",
                    size < -1 ? Long.toUnsignedString(size) : "no NBD_INFO_EXPORT",
                    "an NBD_INFO_EXPORT with a size in [0, 2^63)");
        }
        return enter(exportName, size, flags, minimum, preferred, maximum, options);
    }

    private NbdConnection exportNameFallback(String exportName, byte[] name, NbdConnection.Options options)
            throws IOException {
        sendOption(NbdProtocol.OPT_EXPORT_NAME, ByteBuffer.wrap(name));
        ByteBuffer reply = ByteBuffer.allocate(noZeroes ? 10 : 134);
        Wire.readFully(channel, reply, "the NBD_OPT_EXPORT_NAME reply");
        long size = reply.getLong(0);
        if (size < 0) {
            throw CorruptInputException.of(
                    "NBD_OPT_EXPORT_NAME reply", "export size", Long.toUnsignedString(size), "less than 2^63");
        }
        return enter(
                exportName,
                size,
                Short.toUnsignedInt(reply.getShort(8)),
                1,
                4096,
                NbdProtocol.DEFAULT_MAX_BLOCK,
                options);
    }

    private NbdConnection enter(
            String exportName,
            long size,
            int flags,
            int minimum,
            int preferred,
            int maximum,
            NbdConnection.Options options) {
        finished = true;
        int maximumPayload = maximum == -1 || Integer.compareUnsigned(maximum, NbdProtocol.HARD_MAX_BLOCK) > 0
                ? NbdProtocol.HARD_MAX_BLOCK
                : maximum;
        NbdExportInfo info = new NbdExportInfo(
                exportName, size, flags, minimum, preferred, maximumPayload, structuredReplies, metaContexts);
        return new NbdConnection(channel, info, options);
    }

    private static void checkBlockSizes(int minimum, int preferred, int maximum) throws CorruptInputException {
        boolean valid = minimum >= 1
                && minimum <= 65536
                && Integer.bitCount(minimum) == 1
                && Integer.bitCount(preferred) == 1
                && preferred >= Math.max(512, minimum)
                && (maximum == -1 || (maximum > 0 && maximum >= preferred && maximum % minimum == 0));
        if (!valid) {
            throw CorruptInputException.of(
                    "NBD_INFO_BLOCK_SIZE",
                    "minimum/preferred/maximum",
                    Integer.toUnsignedString(minimum) + "/" + Integer.toUnsignedString(preferred) + "/"
                            + Integer.toUnsignedString(maximum),
                    "powers of two with minimum <= 64 KiB, preferred >= max(512, minimum), maximum >= preferred and a"
                            + " multiple of minimum");
        }
    }

    private void expectInfoLength(Reply reply, int length, String what) throws CorruptInputException {
        if (reply.data.remaining() != length) {
            throw CorruptInputException.of(
                    "NBD_OPT_GO reply", what + " payload length", reply.data.remaining(), length);
        }
    }

    private void checkOpen() {
        if (finished) {
            throw new IllegalStateException("the NBD negotiation is over");
        }
    }

    private void sendOption(int option, ByteBuffer data) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(16);
        header.putLong(NbdProtocol.IHAVEOPT)
                .putInt(option)
                .putInt(data.remaining())
                .flip();
        Wire.writeFully(channel, header);
        Wire.writeFully(channel, data);
    }

    private record Reply(int type, ByteBuffer data) {}

    private Reply readReply(int option) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(20);
        String what = NbdProtocol.optionName(option) + " reply";
        Wire.readFully(channel, header, what);
        long magic = header.getLong(0);
        if (magic != NbdProtocol.OPTION_REPLY_MAGIC) {
            throw CorruptInputException.of(what, "magic", hex(magic), hex(NbdProtocol.OPTION_REPLY_MAGIC));
        }
        int echoed = header.getInt(8);
        if (echoed != option) {
            throw CorruptInputException.of(what, "option", echoed, option);
        }
        int type = header.getInt(12);
        int length = header.getInt(16);
        if (length < 0 || length > NbdProtocol.MAX_OPTION_REPLY) {
            throw CorruptInputException.of(
                    what, "length", Integer.toUnsignedString(length), "at most " + NbdProtocol.MAX_OPTION_REPLY);
        }
        ByteBuffer data = ByteBuffer.allocate(length);
        Wire.readFully(channel, data, what + " data");
        data.flip();
        if ((type & NbdProtocol.REP_FLAG_ERROR) != 0 && type != NbdProtocol.REP_ERR_UNSUP) {
            String message = utf8(data);
            throw new NbdException(
                    type,
                    "NBD server refused " + NbdProtocol.optionName(option) + ": " + NbdProtocol.replyErrorName(type)
                            + (message.isEmpty() ? "" : " (" + message + ")"));
        }
        return new Reply(type, data);
    }

    private static void expectEmpty(Reply reply, int option) throws CorruptInputException {
        if (reply.data.hasRemaining()) {
            throw CorruptInputException.of(
                    NbdProtocol.optionName(option) + " reply", "NBD_REP_ACK length", reply.data.remaining(), 0);
        }
    }

    private static CorruptInputException unexpected(Reply reply, int option) {
        return CorruptInputException.of(
                NbdProtocol.optionName(option) + " reply",
                "reply type",
                (reply.type & NbdProtocol.REP_FLAG_ERROR) != 0
                        ? NbdProtocol.replyErrorName(reply.type)
                        : "0x" + Integer.toHexString(reply.type),
                "one this option allows");
    }

    private static String utf8(ByteBuffer data) {
        byte[] bytes = new byte[Math.min(data.remaining(), NbdProtocol.MAX_ERROR_MESSAGE)];
        data.get(bytes);
        data.position(data.limit());
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
