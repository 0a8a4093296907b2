package org.thinsr.qmpclient;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Builders for NBD wire messages in tests (big-endian, proto.md layouts). */
final class NbdBytes {
    private NbdBytes() {}

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    static byte[] u16(int value) {
        return ByteBuffer.allocate(2).putShort((short) value).array();
    }

    static byte[] u32(long value) {
        return ByteBuffer.allocate(4).putInt((int) value).array();
    }

    static byte[] u64(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }

    static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] greeting(int flags) {
        return concat(u64(NbdProtocol.NBDMAGIC), u64(NbdProtocol.IHAVEOPT), u16(flags));
    }

    static byte[] option(int option, byte[] data) {
        return concat(u64(NbdProtocol.IHAVEOPT), u32(option), u32(data.length), data);
    }

    static byte[] optionReply(int option, int type, byte[] data) {
        return concat(u64(NbdProtocol.OPTION_REPLY_MAGIC), u32(option), u32(type), u32(data.length), data);
    }

    static byte[] metaContextData(String export, String... queries) {
        byte[] name = utf8(export);
        byte[] result = concat(u32(name.length), name, u32(queries.length));
        for (String query : queries) {
            result = concat(result, u32(utf8(query).length), utf8(query));
        }
        return result;
    }

    static byte[] goData(String export) {
        byte[] name = utf8(export);
        return concat(u32(name.length), name, u16(1), u16(NbdProtocol.INFO_BLOCK_SIZE));
    }

    static byte[] infoExport(long size, int flags) {
        return concat(u16(NbdProtocol.INFO_EXPORT), u64(size), u16(flags));
    }

    static byte[] infoBlockSize(int minimum, int preferred, int maximum) {
        return concat(u16(NbdProtocol.INFO_BLOCK_SIZE), u32(minimum), u32(preferred), u32(maximum));
    }

    static byte[] request(int flags, int type, long cookie, long offset, long length) {
        return concat(u32(NbdProtocol.REQUEST_MAGIC), u16(flags), u16(type), u64(cookie), u64(offset), u32(length));
    }

    static byte[] simpleReply(int error, long cookie) {
        return concat(u32(NbdProtocol.SIMPLE_REPLY_MAGIC), u32(error), u64(cookie));
    }

    static byte[] chunk(int flags, int type, long cookie, byte[] payload) {
        return concat(
                u32(NbdProtocol.STRUCTURED_REPLY_MAGIC),
                u16(flags),
                u16(type),
                u64(cookie),
                u32(payload.length),
                payload);
    }

    static byte[] chunkHeader(int flags, int type, long cookie, long length) {
        return concat(u32(NbdProtocol.STRUCTURED_REPLY_MAGIC), u16(flags), u16(type), u64(cookie), u32(length));
    }

    static byte[] pattern(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + seed);
        }
        return bytes;
    }
}
