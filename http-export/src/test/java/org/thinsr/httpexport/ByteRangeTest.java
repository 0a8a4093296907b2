package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ByteRangeTest {
    @Test
    void closedOpenAndSuffixRanges() throws Exception {
        assertThat(ByteRange.parse("bytes=0-99", 1000)).contains(new ByteRange(0, 100, 1000));
        assertThat(ByteRange.parse("bytes=900-", 1000)).contains(new ByteRange(900, 1000, 1000));
        assertThat(ByteRange.parse("bytes=-100", 1000)).contains(new ByteRange(900, 1000, 1000));
        assertThat(ByteRange.parse("bytes=-5000", 1000)).contains(new ByteRange(0, 1000, 1000));
        assertThat(ByteRange.parse("bytes=10-5000", 1000)).contains(new ByteRange(10, 1000, 1000));
    }

    @Test
    void malformedOrMultipleRangesMeanTheWholeBody() throws Exception {
        assertThat(ByteRange.parse(null, 1000)).isEmpty();
        assertThat(ByteRange.parse("items=0-1", 1000)).isEmpty();
        assertThat(ByteRange.parse("bytes=0-1,5-6", 1000)).isEmpty();
        assertThat(ByteRange.parse("bytes=5-1", 1000)).isEmpty();
        assertThat(ByteRange.parse("bytes=x-1", 1000)).isEmpty();
        assertThat(ByteRange.parse("bytes=99999999999999999999-", 1000)).isEmpty();
    }

    @Test
    void rangesPastTheEndAreUnsatisfiable() {
        assertThatThrownBy(() -> ByteRange.parse("bytes=1000-", 1000))
                .isInstanceOf(ByteRange.UnsatisfiableException.class);
        assertThatThrownBy(() -> ByteRange.parse("bytes=-0", 1000))
                .isInstanceOf(ByteRange.UnsatisfiableException.class);
    }

    @Test
    void contentRangeNamesTheLastByte() {
        assertThat(new ByteRange(10, 20, 100).contentRange()).isEqualTo("bytes 10-19/100");
    }
}
