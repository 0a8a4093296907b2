package org.thinsr.migrate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ExtentSet;

/**
 * A resumable copy's record of finished extents: an append-only file of 24-byte records, each
 * {@code start (u64 BE) | end (u64 BE) | crc32c of the first 16 bytes (u32 BE) | 4 zero bytes},
 * after a header line naming the copy ({@code thinsr-journal 1 <id>\n}). A record is appended only
 * after its extent is durable on the destination, and the file is forced before every append
 * returns, so a crash loses at most work that had not been recorded; a torn last record fails its
 * CRC and is ignored. Thread-safe.
 */
public final class CopyJournal implements AutoCloseable {
    static final int RECORD_BYTES = 24;

    private final Path file;
    private final FileChannel channel;
    private final ExtentSet done;

    private CopyJournal(Path file, FileChannel channel, ExtentSet done) {
        this.file = file;
        this.channel = channel;
        this.done = done;
    }

    /**
     * Opens the journal of copy {@code id} at {@code file}, creating it when absent. A journal of
     * another copy is an error (never silently reused).
     */
    public static CopyJournal open(Path file, String id) throws IOException {
        if (id.indexOf('\n') >= 0 || id.length() > 1024) {
            throw new IllegalArgumentException("journal id must be one line of at most 1024 characters");
        }
        byte[] header = ("thinsr-journal 1 " + id + "\n").getBytes(StandardCharsets.UTF_8);
        FileChannel channel =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long size = channel.size();
            if (size == 0) {
                channel.write(ByteBuffer.wrap(header), 0);
                channel.force(true);
                return new CopyJournal(file, channel, ExtentSet.empty());
            }
            ByteBuffer existing = ByteBuffer.allocate(header.length);
            channel.read(existing, 0);
            if (!ByteBuffer.wrap(header).equals(existing.flip())) {
                throw new CorruptInputException(file + ": header: actual '"
                        + new String(existing.array(), 0, existing.limit(), StandardCharsets.UTF_8).strip()
                        + "', expected '" + new String(header, StandardCharsets.UTF_8).strip()
                        + "' (a journal of another copy)");
            }
            ExtentSet.Builder builder = ExtentSet.builder();
            ByteBuffer record = ByteBuffer.allocate(RECORD_BYTES);
            long position = header.length;
            while (position + RECORD_BYTES <= size) {
                record.clear();
                channel.read(record, position);
                long start = record.getLong(0);
                long end = record.getLong(8);
                if (record.getInt(16) != crc(start, end) || start < 0 || end < start) {
                    break; // torn or damaged tail: everything after it is redone
                }
                builder.add(start, end);
                position += RECORD_BYTES;
            }
            channel.truncate(position);
            channel.position(position);
            return new CopyJournal(file, channel, builder.build());
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** Extents recorded as done when the journal was opened. */
    public ExtentSet doneAtOpen() {
        return done;
    }

    /** Records {@code [start, end)} as durable on the destination; forced before returning. */
    public void record(long start, long end) throws IOException {
        record(ExtentSet.of(start, end));
    }

    /**
     * Records every extent of {@code durable} as durable on the destination, in one append and one
     * force (a batch torn by a crash loses only its tail, which is redone).
     */
    public synchronized void record(ExtentSet durable) throws IOException {
        if (durable.isEmpty()) {
            return;
        }
        ByteBuffer records = ByteBuffer.allocate(durable.size() * RECORD_BYTES);
        for (int i = 0; i < durable.size(); i++) {
            long start = durable.start(i);
            long end = durable.end(i);
            records.putLong(start).putLong(end).putInt(crc(start, end)).putInt(0);
        }
        records.flip();
        long position = channel.size();
        while (records.hasRemaining()) {
            position += channel.write(records, position);
        }
        channel.force(false);
    }

    static int crc(long start, long end) {
        CRC32C crc = new CRC32C();
        ByteBuffer bytes = ByteBuffer.allocate(16).putLong(start).putLong(end).flip();
        crc.update(bytes);
        return (int) crc.getValue();
    }

    public Path file() {
        return file;
    }

    /** Deletes the journal after a copy completed. */
    public void delete() throws IOException {
        close();
        Files.deleteIfExists(file);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
