package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VhdGeometryTest {
    /** Values worked by hand through the spec's "CHS Calculation" appendix, one per branch. */
    @ParameterizedTest(name = "{0} sectors -> {1}/{2}/{3}")
    @CsvSource({
        // 17 sectors per track, heads raised to 4
        "20480, 301, 4, 17",
        // 17 sectors per track, 12 heads
        "195313, 957, 12, 17",
        // 17 * 16 * 1024 sectors: cylinders x heads reaches heads * 1024, so 31 sectors per track
        "278528, 561, 16, 31",
        // 31 * 16 * 1024 sectors: heads would be 30 > 16, and 31 is still too few, so 63
        "507904, 503, 16, 63",
        // 65535 * 16 * 63 sectors: the 255 sectors-per-track branch
        "66059280, 16191, 16, 255",
        // the maximum geometry, and anything larger is clamped to it
        "267382800, 65535, 16, 255",
        "4278190080, 65535, 16, 255",
        "0, 0, 4, 17",
        "1, 0, 4, 17"
    })
    void geometryFollowsTheSpecAlgorithm(long sectors, int cylinders, int heads, int sectorsPerTrack) {
        assertThat(VhdGeometry.of(sectors * 512)).isEqualTo(new VhdGeometry(cylinders, heads, sectorsPerTrack));
    }

    @Test
    void geometryNeverDescribesMoreThanTheDisk() {
        for (long sectors = 1; sectors < 2_000_000; sectors += 997) {
            VhdGeometry geometry = VhdGeometry.of(sectors * 512);
            assertThat(geometry.totalSectors()).as("sectors %d", sectors).isLessThanOrEqualTo(sectors);
        }
    }

    @Test
    void geometryFieldRoundTrips() {
        VhdGeometry geometry = new VhdGeometry(0xFFFF, 0x10, 0xFF);
        assertThat(geometry.encode()).isEqualTo(0xFFFF10FF);
        assertThat(VhdGeometry.decode(0xFFFF10FF)).isEqualTo(geometry);
    }
}
