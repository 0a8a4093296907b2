package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ConcurrencyLimiterTest {
    @Test
    void perClientAndGlobalBoundsAreEnforcedAndReleased() {
        ConcurrencyLimiter limiter = new ConcurrencyLimiter(3, 2);
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("a")).as("third for one client").isFalse();
        assertThat(limiter.tryAcquire("b")).isTrue();
        assertThat(limiter.tryAcquire("c")).as("fourth overall").isFalse();
        assertThat(limiter.active()).isEqualTo(3);
        limiter.release("a");
        assertThat(limiter.tryAcquire("c")).isTrue();
    }
}
