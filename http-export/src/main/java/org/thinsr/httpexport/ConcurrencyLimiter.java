package org.thinsr.httpexport;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds transfers in flight, globally and per client address. Beyond either bound a request is
 * refused at once (the caller answers 503 with {@code Retry-After}); nothing queues without bound.
 * Thread-safe.
 */
final class ConcurrencyLimiter {
    private final int maxGlobal;
    private final int maxPerClient;
    private final AtomicInteger global = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> perClient = new ConcurrentHashMap<>();

    ConcurrencyLimiter(int maxGlobal, int maxPerClient) {
        if (maxGlobal < 1 || maxPerClient < 1) {
            throw new IllegalArgumentException(
                    "limits must be at least 1: global " + maxGlobal + ", per client " + maxPerClient);
        }
        this.maxGlobal = maxGlobal;
        this.maxPerClient = maxPerClient;
    }

    /** Takes a slot for {@code client}; false when a bound is reached (nothing taken then). */
    boolean tryAcquire(String client) {
        if (global.incrementAndGet() > maxGlobal) {
            global.decrementAndGet();
            return false;
        }
        AtomicInteger count = perClient.computeIfAbsent(client, key -> new AtomicInteger());
        if (count.incrementAndGet() > maxPerClient) {
            count.decrementAndGet();
            global.decrementAndGet();
            return false;
        }
        return true;
    }

    /** Gives back a slot taken by a successful {@link #tryAcquire}. */
    void release(String client) {
        AtomicInteger count = perClient.get(client);
        if (count != null && count.decrementAndGet() == 0) {
            perClient.remove(client, count);
        }
        global.decrementAndGet();
    }

    int active() {
        return global.get();
    }
}
