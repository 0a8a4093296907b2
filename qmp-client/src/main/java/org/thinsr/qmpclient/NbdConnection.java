package org.thinsr.qmpclient;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.FileRegion;

/**
 * One NBD connection in the transmission phase (proto.md "Transmission"), with several requests in
 * flight: requests are written under a lock, one reader thread matches replies to requests by
 * cookie, and a semaphore bounds the requests in flight ({@link Options#maxInFlight()}).
 *
 * <pre>
 * request (28 B):      u32 0x25609513 | u16 command flags | u16 type | u64 cookie | u64 offset | u32 length | [payload]
 * simple reply (16 B): u32 0x67446698 | u32 error | u64 cookie | [length bytes for a successful READ]
 * structured (20 B):   u32 0x668e33ef | u16 flags (bit 0 DONE) | u16 type | u64 cookie | u32 length | payload
 *   OFFSET_DATA  (1):  u64 offset | data                       (READ)
 *   OFFSET_HOLE  (2):  u64 offset | u32 hole size               (READ)
 *   BLOCK_STATUS (5):  u32 context id | { u32 length | u32 flags }+   one chunk per selected context
 *   ERROR   (32769):   u32 errno | u16 message length | message
 *   ERROR_OFFSET (32770): u32 errno | u16 message length | message | u64 offset
 * </pre>
 *
 * <p>Everything read from the server is checked before use: reply magic and cookie, chunk lengths
 * against the request (a READ chunk must lie inside the request, a READ must be covered exactly
 * once before it succeeds), descriptor counts ({@value NbdProtocol#MAX_DESCRIPTORS} at most) and
 * error message lengths. A protocol violation, the peer closing, or a reply that does not come
 * within {@link Options#replyTimeout()} fails every request in flight and closes the connection; a
 * server error reply fails only its request with an {@link NbdException}.
 *
 * <p>Thread-safe: any thread may issue requests. The connection owns its channel; {@link #close()}
 * sends {@code NBD_CMD_DISC} and closes it.
 */
public final class NbdConnection implements Closeable {
    /**
     * Tuning of one connection.
     *
     * @param maxInFlight requests in flight at most (callers block beyond that)
     * @param replyTimeout how long a synchronous call waits for its reply before the connection is
     *     declared dead
     */
    public record Options(int maxInFlight, Duration replyTimeout) {
        public static final Options DEFAULT = new Options(64, Duration.ofSeconds(60));

        public Options {
            if (maxInFlight < 1 || maxInFlight > 1024) {
                throw new IllegalArgumentException("maxInFlight is outside [1, 1024]: " + maxInFlight);
            }
            Objects.requireNonNull(replyTimeout, "replyTimeout");
            if (replyTimeout.isNegative() || replyTimeout.isZero()) {
                throw new IllegalArgumentException("replyTimeout is not positive: " + replyTimeout);
            }
        }
    }

    /** Large reads and writes are split into requests of this size (see {@link #requestSize()}). */
    static final int SPLIT_SIZE = 256 * 1024;

    /** The largest length of one BLOCK_STATUS, WRITE_ZEROES or TRIM request we send: 2 GiB. */
    static final long MAX_EFFECT_LENGTH = 1L << 31;

    private final ByteChannel channel;
    private final NbdExportInfo info;
    private final Options options;
    private final Semaphore inFlight;
    private final AtomicLong nextCookie = new AtomicLong(1);
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Object writeLock = new Object();
    private final ByteBuffer requestHeader = ByteBuffer.allocate(28);
    private volatile IOException failure;
    private volatile boolean closing;

    NbdConnection(ByteChannel channel, NbdExportInfo info, Options options) {
        this.channel = channel;
        this.info = info;
        this.options = options;
        this.inFlight = new Semaphore(options.maxInFlight());
        Thread.ofPlatform().daemon().name("nbd-reader-" + info.exportName()).start(this::readLoop);
    }

    /**
     * Connects to {@code uri} and negotiates structured replies, the given meta contexts and the
     * export. Meta contexts the server does not offer are not selected (see {@link
     * NbdExportInfo#metaContexts()}).
     */
    public static NbdConnection connect(NbdUri uri, List<String> metaContexts, Options options) throws IOException {
        ByteChannel channel = SocketChannels.connect(uri);
        try {
            return negotiate(channel, uri.exportName(), metaContexts, options);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Negotiates on an already connected channel (a socket, a pipe, a test peer). A server that
     * does not finish the handshake within {@link Options#replyTimeout()} (qemu-nbd without {@code
     * -e} accepts a second connection but never greets it) has its channel closed and fails the
     * call, never hangs it.
     */
    public static NbdConnection negotiate(
            ByteChannel channel, String exportName, List<String> metaContexts, Options options) throws IOException {
        java.util.concurrent.atomic.AtomicBoolean settled = new java.util.concurrent.atomic.AtomicBoolean();
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(options.replyTimeout());
            } catch (InterruptedException e) {
                return;
            }
            if (settled.compareAndSet(false, true)) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // closing is the point; the negotiating thread reports the timeout
                }
            }
        });
        try {
            NbdHandshake handshake = NbdHandshake.start(channel);
            boolean structured = handshake.structuredReply();
            if (structured && !metaContexts.isEmpty()) {
                handshake.setMetaContexts(exportName, metaContexts);
            }
            NbdConnection connection = handshake.go(exportName, options);
            if (!settled.compareAndSet(false, true)) {
                connection.close();
                throw handshakeTimeout(options, null);
            }
            return connection;
        } catch (IOException e) {
            if (settled.compareAndSet(false, true)) {
                throw e;
            }
            throw handshakeTimeout(options, e);
        } finally {
            watchdog.interrupt();
        }
    }

    private static IOException handshakeTimeout(Options options, IOException cause) {
        return new IOException(
                "the NBD server did not finish the handshake within " + options.replyTimeout()
                        + " (a server that serves one client at a time, such as qemu-nbd without -e, may be busy)",
                cause);
    }

    public NbdExportInfo info() {
        return info;
    }

    public long size() {
        return info.size();
    }

    // ---------------------------------------------------------------- synchronous requests

    /**
     * Reads {@code buffer.remaining()} bytes at {@code offset} into {@code buffer} (advancing its
     * position), split into 256 KiB requests (see {@link #requestSize()}) that are all in flight at
     * once, up to {@link Options#maxInFlight()}.
     */
    public void read(long offset, ByteBuffer buffer) throws IOException {
        checkRange(offset, buffer.remaining());
        List<Pending> requests = new ArrayList<>();
        int maximum = requestSize();
        while (buffer.hasRemaining()) {
            int length = Math.min(buffer.remaining(), maximum);
            ByteBuffer slice = buffer.slice(buffer.position(), length);
            requests.add(submit(NbdProtocol.CMD_READ, 0, offset, length, null, slice));
            buffer.position(buffer.position() + length);
            offset += length;
        }
        awaitAll(requests);
    }

    /**
     * The size large reads and writes are split into: 256 KiB (libnbd's measured optimum, and ours:
     * docs/PERFORMANCE.md), or the server's preferred block size if larger, never above its maximum.
     */
    int requestSize() {
        return Math.min(info.maximumPayload(), Math.max(SPLIT_SIZE, info.preferredBlockSize()));
    }

    /**
     * Starts reading {@code buffer.remaining()} bytes (at most {@link NbdExportInfo#maximumPayload()})
     * at {@code offset}; the future completes when {@code buffer} holds them. Blocks while {@link
     * Options#maxInFlight()} requests are in flight. The buffer's position is not changed.
     */
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer buffer) throws IOException {
        checkRange(offset, buffer.remaining());
        if (buffer.remaining() > info.maximumPayload()) {
            throw new IllegalArgumentException(
                    "read of " + buffer.remaining() + " bytes exceeds the server maximum " + info.maximumPayload());
        }
        return submit(NbdProtocol.CMD_READ, 0, offset, buffer.remaining(), null, buffer.slice())
                .future
                .thenApply(ignored -> null);
    }

    /** Writes all of {@code buffer} at {@code offset}, split like {@link #read} and pipelined. */
    public void write(long offset, ByteBuffer buffer, boolean fua) throws IOException {
        checkWritable("write");
        checkRange(offset, buffer.remaining());
        int flags = fua && info.canFua() ? NbdProtocol.CMD_FLAG_FUA : 0;
        List<Pending> requests = new ArrayList<>();
        int maximum = requestSize();
        while (buffer.hasRemaining()) {
            int length = Math.min(buffer.remaining(), maximum);
            ByteBuffer slice = buffer.slice(buffer.position(), length);
            requests.add(submit(NbdProtocol.CMD_WRITE, flags, offset, length, slice, null));
            buffer.position(buffer.position() + length);
            offset += length;
        }
        awaitAll(requests);
    }

    /**
     * {@link #write} of the bytes of {@code regions}, one after another, from their files: each
     * request's payload goes from the page cache to the socket with {@code sendfile} ({@link
     * FileChannel#transferTo}), never through a buffer of ours (over TCP the kernel hands the pages
     * on by reference). False, with nothing sent, when this connection's channel is not a blocking
     * socket the JDK sends files into (a test pipe, say): the caller then reads and writes.
     *
     * @throws CorruptInputException when a region passes the end of its file
     */
    public boolean writeRegions(long offset, List<FileRegion> regions, boolean fua) throws IOException {
        if (!(channel instanceof SocketChannel socket) || !socket.isBlocking()) {
            return false;
        }
        checkWritable("write");
        long total = 0;
        for (FileRegion region : regions) {
            if (!region.isZeros() && region.position() > region.file().size() - region.length()) {
                throw CorruptInputException.of(
                        "a file region",
                        "bytes " + region.position() + " to " + (region.position() + region.length()),
                        "a file of " + region.file().size() + " bytes",
                        "the region within the file");
            }
            total += region.length();
        }
        checkRange(offset, total);
        int flags = fua && info.canFua() ? NbdProtocol.CMD_FLAG_FUA : 0;
        List<Pending> requests = new ArrayList<>();
        int maximum = requestSize();
        for (long done = 0; done < total; ) {
            int length = (int) Math.min(total - done, maximum);
            requests.add(submit(NbdProtocol.CMD_WRITE, flags, offset + done, length, slice(regions, done, length)));
            done += length;
        }
        awaitAll(requests);
        return true;
    }

    /** The part {@code [skip, skip + length)} of the bytes {@code regions} stand for. */
    static List<FileRegion> slice(List<FileRegion> regions, long skip, long length) {
        List<FileRegion> part = new ArrayList<>(2);
        long at = 0;
        long end = skip + length;
        for (FileRegion region : regions) {
            long from = Math.max(skip, at);
            long to = Math.min(end, at + region.length());
            if (from < to) {
                part.add(
                        region.isZeros()
                                ? FileRegion.zeros(to - from)
                                : new FileRegion(region.file(), region.position() + (from - at), to - from));
            }
            at += region.length();
            if (at >= end) {
                break;
            }
        }
        return part;
    }

    /**
     * Makes {@code [offset, offset + length)} read as zeros with {@code NBD_CMD_WRITE_ZEROES},
     * letting the server punch holes. With {@code fast} and a server that offers {@code FAST_ZERO},
     * the server fails with {@code ENOTSUP} instead of writing zeros slowly.
     */
    public void writeZeroes(long offset, long length, boolean fast) throws IOException {
        checkWritable("write zeroes");
        if (!info.canWriteZeroes()) {
            throw new NbdException(95, "the NBD export does not support NBD_CMD_WRITE_ZEROES");
        }
        int flags = fast && info.canFastZero() ? NbdProtocol.CMD_FLAG_FAST_ZERO : 0;
        effectRequests(NbdProtocol.CMD_WRITE_ZEROES, flags, offset, length);
    }

    /** Tells the server {@code [offset, offset + length)} is no longer needed (contents undefined). */
    public void trim(long offset, long length) throws IOException {
        checkWritable("trim");
        if (!info.canTrim()) {
            throw new NbdException(95, "the NBD export does not support NBD_CMD_TRIM");
        }
        effectRequests(NbdProtocol.CMD_TRIM, 0, offset, length);
    }

    /** Makes every acknowledged write durable. A no-op on a server that does not offer FLUSH. */
    public void flush() throws IOException {
        if (!info.canFlush()) {
            return;
        }
        await(submit(NbdProtocol.CMD_FLUSH, 0, 0, 0, null, null));
    }

    /**
     * Block status of {@code [offset, offset + length)} for every selected meta context; {@code
     * length} is at most 2 GiB. The server may describe less than asked (each context at least one
     * byte); every result is clipped to the request.
     *
     * @return one result per selected context, by context name
     */
    public Map<String, BlockStatusExtents> blockStatus(long offset, long length) throws IOException {
        if (info.metaContexts().isEmpty()) {
            throw new IllegalStateException("no meta context was negotiated on this connection");
        }
        if (length < 1 || length > MAX_EFFECT_LENGTH) {
            throw new IllegalArgumentException("block status length is outside [1, 2 GiB]: " + length);
        }
        checkRange(offset, length);
        Pending request = submit(NbdProtocol.CMD_BLOCK_STATUS, 0, offset, length, null, null);
        await(request);
        return request.status;
    }

    private void effectRequests(int command, int flags, long offset, long length) throws IOException {
        checkRange(offset, length);
        List<Pending> requests = new ArrayList<>();
        long end = offset + length;
        while (offset < end) {
            long step = Math.min(end - offset, MAX_EFFECT_LENGTH - (offset % MAX_EFFECT_LENGTH));
            requests.add(submit(command, flags, offset, step, null, null));
            offset += step;
        }
        awaitAll(requests);
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > info.size() - length) {
            throw new IllegalArgumentException("range [" + offset + ", " + offset + "+" + length
                    + ") is outside the export (size " + info.size() + ")");
        }
    }

    private void checkWritable(String what) throws NbdException {
        if (info.readOnly()) {
            throw new NbdException(1, "cannot " + what + ": the NBD export '" + info.exportName() + "' is read-only");
        }
    }

    // ---------------------------------------------------------------- sending

    private Pending submit(int command, int flags, long offset, long length, ByteBuffer payload, ByteBuffer target)
            throws IOException {
        return submit(command, flags, offset, length, payload, null, target);
    }

    private Pending submit(int command, int flags, long offset, long length, List<FileRegion> regions)
            throws IOException {
        return submit(command, flags, offset, length, null, regions, null);
    }

    /** Sends a request whose payload is {@code payload}, or the bytes of {@code regions}, or nothing. */
    private Pending submit(
            int command,
            int flags,
            long offset,
            long length,
            ByteBuffer payload,
            List<FileRegion> regions,
            ByteBuffer target)
            throws IOException {
        IOException failed = failure;
        if (failed != null) {
            throw new IOException("NBD connection is dead: " + failed.getMessage(), failed);
        }
        try {
            if (!inFlight.tryAcquire(options.replyTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                fail(new IOException("NBD server did not answer any of " + options.maxInFlight()
                        + " requests in flight within " + options.replyTimeout()));
                throw failure;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to send " + NbdProtocol.commandName(command));
        }
        long cookie = nextCookie.getAndIncrement();
        Pending request = new Pending(command, cookie, offset, length, target);
        pending.put(cookie, request);
        if (failure != null) { // lost a race with fail(): make sure the request is failed too
            fail(failure);
        }
        try {
            synchronized (writeLock) {
                requestHeader
                        .clear()
                        .putInt(NbdProtocol.REQUEST_MAGIC)
                        .putShort((short) flags)
                        .putShort((short) command)
                        .putLong(cookie)
                        .putLong(offset)
                        .putInt((int) length)
                        .flip();
                if (payload != null && channel instanceof GatheringByteChannel gathering) {
                    ByteBuffer[] parts = {requestHeader, payload.duplicate()};
                    while (parts[1].hasRemaining()) {
                        gathering.write(parts);
                    }
                } else {
                    Wire.writeFully(channel, requestHeader);
                    if (payload != null) {
                        Wire.writeFully(channel, payload.duplicate());
                    }
                    if (regions != null) {
                        sendRegions(regions);
                    }
                }
            }
        } catch (IOException e) {
            fail(new IOException(
                    "cannot send " + NbdProtocol.commandName(command) + " to the NBD server: " + e.getMessage(), e));
        }
        return request;
    }

    /** Under the write lock, after the header: each region's bytes straight from its file. */
    private void sendRegions(List<FileRegion> regions) throws IOException {
        for (FileRegion region : regions) {
            if (region.isZeros()) {
                for (long left = region.length(); left > 0; ) {
                    ByteBuffer zeros = ByteBuffer.wrap(ZEROS, 0, (int) Math.min(left, ZEROS.length));
                    left -= zeros.remaining();
                    Wire.writeFully(channel, zeros);
                }
                continue;
            }
            long position = region.position();
            long end = position + region.length();
            while (position < end) {
                long n = region.file().transferTo(position, end - position, channel);
                if (n <= 0) {
                    throw new EOFException("the file ended at " + position + " while " + (end - position)
                            + " more bytes of it were being sent");
                }
                position += n;
            }
        }
    }

    private void awaitAll(List<Pending> requests) throws IOException {
        IOException first = null;
        for (Pending request : requests) {
            try {
                await(request);
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void await(Pending request) throws IOException {
        try {
            request.future.get(options.replyTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (TimeoutException e) {
            IOException timeout = new IOException("no reply to " + request.describe() + " within "
                    + options.replyTimeout() + "; the NBD connection is closed");
            fail(timeout);
            throw timeout;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + request.describe());
        } catch (CancellationException e) {
            throw new IOException(request.describe() + " was cancelled", e);
        }
    }

    private static IOException rethrow(Throwable cause) {
        if (cause instanceof NbdException nbd) {
            return new NbdException(nbd.errno(), nbd.getMessage());
        }
        if (cause instanceof CorruptInputException corrupt) {
            return new CorruptInputException(corrupt.getMessage(), corrupt);
        }
        if (cause instanceof IOException io) {
            return new IOException(io.getMessage(), io);
        }
        return new IOException(String.valueOf(cause), cause);
    }

    // ---------------------------------------------------------------- receiving

    private void readLoop() {
        ByteBuffer header = ByteBuffer.allocate(20);
        ByteBuffer small = ByteBuffer.allocate(16);
        try {
            while (true) {
                header.clear().limit(4);
                if (!readMagic(header)) {
                    if (closing && pending.isEmpty()) {
                        return;
                    }
                    throw new EOFException(
                            "NBD server closed the connection with " + pending.size() + " request(s) in flight");
                }
                int magic = header.getInt(0);
                if (magic == NbdProtocol.SIMPLE_REPLY_MAGIC) {
                    Wire.readFully(channel, header.limit(16), "a simple reply header");
                    readSimpleReply(header.getInt(4), header.getLong(8));
                } else if (magic == NbdProtocol.STRUCTURED_REPLY_MAGIC && info.structuredReplies()) {
                    Wire.readFully(channel, header.limit(20), "a structured reply header");
                    readChunk(
                            Short.toUnsignedInt(header.getShort(4)),
                            Short.toUnsignedInt(header.getShort(6)),
                            header.getLong(8),
                            Integer.toUnsignedLong(header.getInt(16)),
                            small);
                } else {
                    throw CorruptInputException.of(
                            "NBD reply",
                            "magic",
                            "0x" + Integer.toHexString(magic),
                            "0x67446698 (simple)" + (info.structuredReplies() ? " or 0x668e33ef (structured)" : ""));
                }
            }
        } catch (IOException e) {
            fail(closing ? new IOException("NBD connection closed", e) : e);
        } catch (RuntimeException e) {
            fail(new IOException("NBD reader failed: " + e, e));
        }
    }

    /** Reads the 4-byte magic; false on a clean end of stream before its first byte. */
    private boolean readMagic(ByteBuffer header) throws IOException {
        while (header.hasRemaining()) {
            int n = channel.read(header);
            if (n < 0) {
                if (header.position() == 0) {
                    return false;
                }
                throw new EOFException("NBD server closed the connection inside a reply magic");
            }
        }
        return true;
    }

    private Pending lookup(long cookie, String what) throws CorruptInputException {
        Pending request = pending.get(cookie);
        if (request == null) {
            throw CorruptInputException.of(
                    what, "cookie", Long.toUnsignedString(cookie), "the cookie of a request in flight");
        }
        return request;
    }

    private void readSimpleReply(int error, long cookie) throws IOException {
        Pending request = lookup(cookie, "NBD simple reply");
        if (request.command == NbdProtocol.CMD_BLOCK_STATUS && error == 0) {
            throw CorruptInputException.of(
                    "NBD simple reply to " + request.describe(), "reply kind", "simple without error", "structured");
        }
        if (error == 0 && request.command == NbdProtocol.CMD_READ) {
            Wire.readFully(channel, request.target.duplicate(), "the data of " + request.describe());
            request.coveredInOrder = request.length;
        }
        complete(
                request,
                error == 0
                        ? null
                        : new NbdException(error, request.describe() + " failed: " + NbdException.errnoName(error)));
    }

    private void readChunk(int flags, int type, long cookie, long length, ByteBuffer small) throws IOException {
        Pending request = lookup(cookie, "NBD structured reply chunk");
        String where = "NBD chunk type " + type + " for " + request.describe();
        switch (type) {
            case NbdProtocol.CHUNK_NONE -> {
                if (length != 0 || (flags & NbdProtocol.REPLY_FLAG_DONE) == 0) {
                    throw CorruptInputException.of(
                            where, "NBD_REPLY_TYPE_NONE length/flags", length + "/" + flags, "0/DONE");
                }
            }
            case NbdProtocol.CHUNK_OFFSET_DATA -> readDataChunk(request, length, small, where);
            case NbdProtocol.CHUNK_OFFSET_HOLE -> readHoleChunk(request, length, small, where);
            case NbdProtocol.CHUNK_BLOCK_STATUS -> readStatusChunk(request, length, where);
            default -> {
                if ((type & NbdProtocol.CHUNK_ERROR_FLAG) == 0) {
                    throw CorruptInputException.of(
                            where, "chunk type", type, "NONE, OFFSET_DATA, OFFSET_HOLE, BLOCK_STATUS or an error");
                }
                readErrorChunk(request, type, length, where);
            }
        }
        if ((flags & NbdProtocol.REPLY_FLAG_DONE) != 0) {
            finishStructured(request);
        }
    }

    private void readDataChunk(Pending request, long length, ByteBuffer small, String where) throws IOException {
        if (request.command != NbdProtocol.CMD_READ) {
            throw CorruptInputException.of(where, "chunk type", "OFFSET_DATA", "no data chunk for a non-READ request");
        }
        if (length <= 8 || length - 8 > request.length) {
            throw CorruptInputException.of(where, "OFFSET_DATA length", length, "in [9, " + (request.length + 8) + "]");
        }
        Wire.readFully(channel, small.clear().limit(8), where);
        long chunkOffset = small.getLong(0);
        long dataLength = length - 8;
        int relative = request.checkInside(chunkOffset, dataLength, where);
        ByteBuffer target = request.target.duplicate();
        target.limit(relative + (int) dataLength).position(relative);
        Wire.readFully(channel, target, where);
    }

    private void readHoleChunk(Pending request, long length, ByteBuffer small, String where) throws IOException {
        if (request.command != NbdProtocol.CMD_READ) {
            throw CorruptInputException.of(where, "chunk type", "OFFSET_HOLE", "no hole chunk for a non-READ request");
        }
        if (length != 12) {
            throw CorruptInputException.of(where, "OFFSET_HOLE length", length, 12);
        }
        Wire.readFully(channel, small.clear().limit(12), where);
        long chunkOffset = small.getLong(0);
        long holeLength = Integer.toUnsignedLong(small.getInt(8));
        if (holeLength == 0) {
            throw CorruptInputException.of(where, "hole size", 0, "at least 1");
        }
        int relative = request.checkInside(chunkOffset, holeLength, where);
        ByteBuffer target = request.target;
        int end = relative + (int) holeLength;
        for (int i = relative; i < end; i += ZEROS.length) {
            target.put(i, ZEROS, 0, Math.min(ZEROS.length, end - i));
        }
    }

    private static final byte[] ZEROS = new byte[64 * 1024];

    private ByteBuffer statusBuffer = ByteBuffer.allocate(4096);

    private void readStatusChunk(Pending request, long length, String where) throws IOException {
        if (request.command != NbdProtocol.CMD_BLOCK_STATUS) {
            throw CorruptInputException.of(
                    where, "chunk type", "BLOCK_STATUS", "no status chunk for a non-status request");
        }
        long maximum = 4L + 8L * NbdProtocol.MAX_DESCRIPTORS;
        if (length < 12 || length > maximum || (length - 4) % 8 != 0) {
            throw CorruptInputException.of(
                    where, "BLOCK_STATUS length", length, "4 + 8n with n in [1, " + NbdProtocol.MAX_DESCRIPTORS + "]");
        }
        if (statusBuffer.capacity() < length) {
            statusBuffer = ByteBuffer.allocate((int) Math.min(maximum, Math.max(length, 2L * statusBuffer.capacity())));
        }
        ByteBuffer payload = statusBuffer.clear().limit((int) length);
        Wire.readFully(channel, payload, where);
        int id = payload.getInt(0);
        String context = info.metaContexts().get(id);
        if (context == null) {
            throw CorruptInputException.of(
                    where, "context id", id, "one of " + info.metaContexts().keySet());
        }
        if (request.status.containsKey(context)) {
            throw CorruptInputException.of(where, "chunks for context " + context, 2, 1);
        }
        int count = (int) ((length - 4) / 8);
        long[] ends = new long[count];
        int[] flags = new int[count];
        int n = 0;
        long position = request.offset;
        long requestEnd = request.offset + request.length;
        for (int i = 0; i < count; i++) {
            long descriptorLength = Integer.toUnsignedLong(payload.getInt(4 + 8 * i));
            int status = payload.getInt(8 + 8 * i);
            if (descriptorLength == 0) {
                throw CorruptInputException.of(where, "descriptor " + i + " length", 0, "at least 1");
            }
            if (position >= requestEnd) {
                throw CorruptInputException.of(
                        where,
                        "descriptor " + i + " of " + count,
                        "starts at " + position,
                        "only the last descriptor may pass the request end " + requestEnd);
            }
            position = Math.min(position + descriptorLength, requestEnd);
            if (n > 0 && flags[n - 1] == status) {
                ends[n - 1] = position;
            } else {
                ends[n] = position;
                flags[n] = status;
                n++;
            }
        }
        request.status.put(
                context,
                new BlockStatusExtents(
                        context, request.offset, java.util.Arrays.copyOf(ends, n), java.util.Arrays.copyOf(flags, n)));
    }

    private void readErrorChunk(Pending request, int type, long length, String where) throws IOException {
        if (length < 6 || length > 6 + 65535 + 8) {
            throw CorruptInputException.of(where, "error chunk length", length, "in [6, " + (6 + 65535 + 8) + "]");
        }
        ByteBuffer payload = ByteBuffer.allocate((int) length);
        Wire.readFully(channel, payload, where);
        int errno = payload.getInt(0);
        int messageLength = Short.toUnsignedInt(payload.getShort(4));
        long expected = type == NbdProtocol.CHUNK_ERROR
                ? 6L + messageLength
                : type == NbdProtocol.CHUNK_ERROR_OFFSET ? 6L + messageLength + 8 : -1;
        if ((expected >= 0 && length != expected) || 6L + messageLength > length) {
            throw CorruptInputException.of(
                    where,
                    "error chunk length with a " + messageLength + "-byte message",
                    length,
                    expected >= 0 ? expected : "at least " + (6 + messageLength));
        }
        if (errno == 0) {
            throw CorruptInputException.of(where, "error chunk errno", 0, "a non-zero errno");
        }
        String message = new String(
                payload.array(), 6, Math.min(messageLength, NbdProtocol.MAX_ERROR_MESSAGE), StandardCharsets.UTF_8);
        String at = "";
        if (type == NbdProtocol.CHUNK_ERROR_OFFSET) {
            long errorOffset = payload.getLong(6 + messageLength);
            if (errorOffset < request.offset || errorOffset >= request.offset + request.length) {
                throw CorruptInputException.of(
                        where,
                        "error offset",
                        errorOffset,
                        "inside [" + request.offset + ", " + (request.offset + request.length) + ")");
            }
            at = " at offset " + errorOffset;
        }
        if (request.error == null) {
            request.error = new NbdException(
                    errno,
                    request.describe() + " failed" + at + ": " + NbdException.errnoName(errno)
                            + (message.isEmpty() ? "" : " (" + message + ")"));
        }
    }

    private void finishStructured(Pending request) throws IOException {
        if (request.error == null) {
            switch (request.command) {
                case NbdProtocol.CMD_READ -> request.checkCovered();
                case NbdProtocol.CMD_BLOCK_STATUS -> {
                    if (request.status.size() != info.metaContexts().size()) {
                        throw CorruptInputException.of(
                                "NBD reply to " + request.describe(),
                                "BLOCK_STATUS chunks",
                                request.status.keySet(),
                                "one per selected context "
                                        + info.metaContexts().values());
                    }
                }
                default -> {}
            }
        }
        complete(request, request.error);
    }

    private void complete(Pending request, IOException error) {
        if (pending.remove(request.cookie) == null) {
            return;
        }
        inFlight.release();
        if (error == null) {
            request.future.complete(null);
        } else {
            request.future.completeExceptionally(error);
        }
    }

    /** Declares the connection dead: fails every request in flight and closes the channel. */
    private void fail(IOException cause) {
        synchronized (pending) {
            if (failure == null) {
                failure = cause;
            }
        }
        for (Pending request : List.copyOf(pending.values())) {
            if (pending.remove(request.cookie) != null) {
                inFlight.release();
                String message = request.describe() + " failed: " + failure.getMessage();
                request.future.completeExceptionally(
                        failure instanceof CorruptInputException
                                ? new CorruptInputException(message, failure)
                                : new IOException(message, failure));
            }
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // already failing; the first cause is what callers see
        }
    }

    /** Sends {@code NBD_CMD_DISC} when the connection is healthy, then closes the channel. */
    @Override
    public void close() throws IOException {
        if (closing) {
            return;
        }
        closing = true;
        if (failure == null) {
            try {
                synchronized (writeLock) {
                    requestHeader
                            .clear()
                            .putInt(NbdProtocol.REQUEST_MAGIC)
                            .putShort((short) 0)
                            .putShort((short) NbdProtocol.CMD_DISC)
                            .putLong(nextCookie.getAndIncrement())
                            .putLong(0)
                            .putInt(0)
                            .flip();
                    Wire.writeFully(channel, requestHeader);
                }
            } catch (IOException ignored) {
                // the server may already be gone; closing is all that is left to do
            }
        }
        fail(new IOException("NBD connection closed by the client"));
    }

    /** One request in flight and what its reply has delivered so far. */
    private static final class Pending {
        final int command;
        final long cookie;
        final long offset;
        final long length;
        final ByteBuffer target;
        final CompletableFuture<Void> future = new CompletableFuture<>();
        final Map<String, BlockStatusExtents> status = new HashMap<>();
        long coveredInOrder;
        List<long[]> outOfOrder;
        IOException error;

        Pending(int command, long cookie, long offset, long length, ByteBuffer target) {
            this.command = command;
            this.cookie = cookie;
            this.offset = offset;
            this.length = length;
            this.target = target;
        }

        String describe() {
            return NbdProtocol.commandName(command) + " [" + offset + ", +" + length + ")";
        }

        /** Checks a chunk lies inside the request and records it; returns its offset in the request. */
        int checkInside(long chunkOffset, long chunkLength, String where) throws CorruptInputException {
            if (chunkOffset < offset || chunkOffset - offset > length - chunkLength) {
                throw CorruptInputException.of(
                        where,
                        "chunk [" + chunkOffset + ", +" + chunkLength + ")",
                        "outside the request",
                        "inside [" + offset + ", " + (offset + length) + ")");
            }
            long relative = chunkOffset - offset;
            if (outOfOrder == null && relative == coveredInOrder) {
                coveredInOrder += chunkLength;
            } else {
                if (outOfOrder == null) {
                    outOfOrder = new ArrayList<>();
                    if (coveredInOrder > 0) {
                        outOfOrder.add(new long[] {0, coveredInOrder});
                    }
                }
                if (outOfOrder.size() > 1_000_000) {
                    throw CorruptInputException.of(where, "number of chunks", "more than 1000000", "fewer");
                }
                outOfOrder.add(new long[] {relative, relative + chunkLength});
            }
            return (int) relative;
        }

        void checkCovered() throws CorruptInputException {
            String where = "NBD reply to " + describe();
            if (outOfOrder == null) {
                if (coveredInOrder != length) {
                    throw CorruptInputException.of(
                            where, "bytes covered by data and hole chunks", coveredInOrder, length);
                }
                return;
            }
            outOfOrder.sort((a, b) -> Long.compare(a[0], b[0]));
            long position = 0;
            for (long[] chunk : outOfOrder) {
                if (chunk[0] != position) {
                    throw CorruptInputException.of(
                            where,
                            "chunk at relative offset " + chunk[0],
                            chunk[0] < position ? "overlaps the previous chunk" : "leaves a gap",
                            "to start at " + position);
                }
                position = chunk[1];
            }
            if (position != length) {
                throw CorruptInputException.of(where, "bytes covered by data and hole chunks", position, length);
            }
        }
    }
}
