package org.thinsr.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * The lock that serialises operations on one SR across threads and processes: an in-process lock
 * per lock-file path, then an exclusive {@link FileLock} on the file (released by the kernel when
 * the process dies). The holder writes its pid into the file so that a waiter that gives up can
 * name it. Close to release; not reentrant across nested acquisitions of the same SR.
 */
public final class SrLock implements AutoCloseable {
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();
    private static final long POLL_MILLIS = 50;

    private final ReentrantLock threadLock;
    private final FileChannel channel;
    private final FileLock fileLock;

    private SrLock(ReentrantLock threadLock, FileChannel channel, FileLock fileLock) {
        this.threadLock = threadLock;
        this.channel = channel;
        this.fileLock = fileLock;
    }

    /**
     * Waits at most {@code wait} for the lock on {@code lockFile} (created if absent).
     *
     * @throws ThinsrException {@code SR_LOCKED} naming the holder's pid when the wait runs out;
     *     {@code IO_ERROR} when the lock file cannot be opened
     */
    public static SrLock acquire(Path lockFile, Duration wait) {
        Path key = lockFile.toAbsolutePath().normalize();
        long deadline = System.nanoTime() + wait.toNanos();
        ReentrantLock threadLock = IN_PROCESS.computeIfAbsent(key, path -> new ReentrantLock());
        try {
            if (!threadLock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw locked(key, wait, "another thread of this process");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while waiting for the SR lock " + key, e);
        }
        FileChannel channel = null;
        try {
            channel =
                    FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            while (true) {
                FileLock fileLock;
                try {
                    fileLock = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    fileLock = null;
                }
                if (fileLock != null) {
                    byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
                    channel.truncate(0);
                    channel.write(ByteBuffer.wrap(pid), 0);
                    return new SrLock(threadLock, channel, fileLock);
                }
                if (System.nanoTime() >= deadline) {
                    throw locked(key, wait, holder(channel));
                }
                Thread.sleep(POLL_MILLIS);
            }
        } catch (IOException e) {
            closeQuietly(channel);
            threadLock.unlock();
            throw new ThinsrException(ErrorCode.IO_ERROR, "cannot lock " + key + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            closeQuietly(channel);
            threadLock.unlock();
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while waiting for the SR lock " + key, e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            threadLock.unlock();
            throw e;
        }
    }

    private static String holder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(32);
            channel.read(buffer, 0);
            String pid = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
            return pid.matches("[0-9]{1,10}") ? "process " + pid : "another process";
        } catch (IOException e) {
            return "another process";
        }
    }

    private static ThinsrException locked(Path key, Duration wait, String holder) {
        return new ThinsrException(
                ErrorCode.SR_LOCKED,
                "SR is busy: lock " + key + " is held by " + holder + "; gave up after " + wait.toMillis()
                        + " ms, try again",
                key.toString());
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing to do: the lock goes with the channel
            }
        }
    }

    @Override
    public void close() {
        try {
            fileLock.release();
        } catch (IOException ignored) {
            // the channel close below releases it as well
        } finally {
            closeQuietly(channel);
            threadLock.unlock();
        }
    }
}
