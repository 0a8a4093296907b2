package org.thinsr.qmpclient;

/**
 * Constants of the NBD protocol, fixed newstyle negotiation with structured replies, as written in
 * {@code NetworkBlockDevice/nbd doc/proto.md}. All integers on the wire are big-endian.
 *
 * <pre>
 * handshake (server):  u64 NBDMAGIC | u64 IHAVEOPT | u16 handshake flags
 * client flags:        u32
 * option request:      u64 IHAVEOPT | u32 option | u32 length | data[length]
 * option reply:        u64 0x0003e889045565a9 | u32 option | u32 reply type | u32 length | data[length]
 * request (28 B):      u32 0x25609513 | u16 command flags | u16 type | u64 cookie | u64 offset | u32 length
 * simple reply (16 B): u32 0x67446698 | u32 error | u64 cookie | [read data]
 * structured (20 B):   u32 0x668e33ef | u16 flags | u16 type | u64 cookie | u32 length | payload[length]
 * </pre>
 */
final class NbdProtocol {
    private NbdProtocol() {}

    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OLDSTYLE_MAGIC = 0x00420281861253L;
    static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // handshake flags (server) and client flags
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;

    // options
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int OPT_LIST_META_CONTEXT = 9;
    static final int OPT_SET_META_CONTEXT = 10;

    // option reply types
    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_META_CONTEXT = 4;
    static final int REP_FLAG_ERROR = 1 << 31;
    static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;

    // NBD_REP_INFO types
    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;

    // transmission flags
    static final int TF_HAS_FLAGS = 1;
    static final int TF_READ_ONLY = 1 << 1;
    static final int TF_SEND_FLUSH = 1 << 2;
    static final int TF_SEND_FUA = 1 << 3;
    static final int TF_SEND_TRIM = 1 << 5;
    static final int TF_SEND_WRITE_ZEROES = 1 << 6;
    static final int TF_CAN_MULTI_CONN = 1 << 8;
    static final int TF_SEND_FAST_ZERO = 1 << 11;

    // commands
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_BLOCK_STATUS = 7;

    // command flags
    static final int CMD_FLAG_FUA = 1;
    static final int CMD_FLAG_NO_HOLE = 1 << 1;
    static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // structured reply flags and chunk types
    static final int REPLY_FLAG_DONE = 1;
    static final int CHUNK_NONE = 0;
    static final int CHUNK_OFFSET_DATA = 1;
    static final int CHUNK_OFFSET_HOLE = 2;
    static final int CHUNK_BLOCK_STATUS = 5;
    static final int CHUNK_ERROR_FLAG = 1 << 15;
    static final int CHUNK_ERROR = CHUNK_ERROR_FLAG | 1;
    static final int CHUNK_ERROR_OFFSET = CHUNK_ERROR_FLAG | 2;

    // block status flags of base:allocation
    static final int STATE_HOLE = 1;
    static final int STATE_ZERO = 2;

    /** Bounds on what a peer may make us read or allocate. */
    static final int MAX_OPTION_REPLY = 64 * 1024;

    static final int MAX_NAME = 4096;
    static final int MAX_ERROR_MESSAGE = 4096;
    /** proto.md: a server SHOULD NOT send more than 2^20 block status descriptors in one chunk. */
    static final int MAX_DESCRIPTORS = 1 << 20;
    /** The largest payload a READ or WRITE may carry when the server advertises no maximum. */
    static final int DEFAULT_MAX_BLOCK = 32 * 1024 * 1024;
    /** The largest payload we ever send or accept, whatever the server advertises. */
    static final int HARD_MAX_BLOCK = 64 * 1024 * 1024;

    static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT -> "NBD_OPT_ABORT";
            case OPT_GO -> "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
            default -> "option " + option;
        };
    }

    static String replyErrorName(int type) {
        return switch (type) {
            case REP_FLAG_ERROR | 1 -> "NBD_REP_ERR_UNSUP";
            case REP_FLAG_ERROR | 2 -> "NBD_REP_ERR_POLICY";
            case REP_FLAG_ERROR | 3 -> "NBD_REP_ERR_INVALID";
            case REP_FLAG_ERROR | 4 -> "NBD_REP_ERR_PLATFORM";
            case REP_FLAG_ERROR | 5 -> "NBD_REP_ERR_TLS_REQD";
            case REP_FLAG_ERROR | 6 -> "NBD_REP_ERR_UNKNOWN";
            case REP_FLAG_ERROR | 7 -> "NBD_REP_ERR_SHUTDOWN";
            case REP_FLAG_ERROR | 8 -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case REP_FLAG_ERROR | 9 -> "NBD_REP_ERR_TOO_BIG";
            case REP_FLAG_ERROR | 10 -> "NBD_REP_ERR_EXT_HEADER_REQD";
            default -> "reply type 0x" + Integer.toHexString(type);
        };
    }

    static String commandName(int command) {
        return switch (command) {
            case CMD_READ -> "NBD_CMD_READ";
            case CMD_WRITE -> "NBD_CMD_WRITE";
            case CMD_DISC -> "NBD_CMD_DISC";
            case CMD_FLUSH -> "NBD_CMD_FLUSH";
            case CMD_TRIM -> "NBD_CMD_TRIM";
            case CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "NBD_CMD_BLOCK_STATUS";
            default -> "command " + command;
        };
    }
}
