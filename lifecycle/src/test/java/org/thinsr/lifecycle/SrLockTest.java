package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class SrLockTest {
    @TempDir
    Path dir;

    @Test
    void secondHolderWaitsBoundedThenFailsWithSrLocked() throws Exception {
        Path file = dir.resolve("lock");
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().start(() -> {
            try (SrLock lock = SrLock.acquire(file, Duration.ofSeconds(5))) {
                held.countDown();
                release.await(10, TimeUnit.SECONDS);
                assertThat(lock).isNotNull();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
        long started = System.nanoTime();
        assertThatThrownBy(() -> SrLock.acquire(file, Duration.ofMillis(200)))
                .isInstanceOfSatisfying(ThinsrException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.SR_LOCKED);
                    assertThat(e.getMessage()).contains("gave up after 200 ms");
                });
        assertThat(Duration.ofNanos(System.nanoTime() - started))
                .isBetween(Duration.ofMillis(150), Duration.ofSeconds(5));
        release.countDown();
        holder.join(10_000);
        try (SrLock again = SrLock.acquire(file, Duration.ofMillis(200))) {
            assertThat(again).isNotNull();
        }
    }

    @Test
    void waitersAreSerialised() throws Exception {
        Path file = dir.resolve("lock");
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        Thread[] threads = new Thread[8];
        for (int i = 0; i < threads.length; i++) {
            threads[i] = Thread.ofPlatform().start(() -> {
                for (int round = 0; round < 20; round++) {
                    try (SrLock lock = SrLock.acquire(file, Duration.ofSeconds(30))) {
                        maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                        Thread.onSpinWait();
                        inside.decrementAndGet();
                        assertThat(lock).isNotNull();
                    }
                }
            });
        }
        for (Thread thread : threads) {
            thread.join(60_000);
        }
        assertThat(maxInside.get()).isEqualTo(1);
    }
}
