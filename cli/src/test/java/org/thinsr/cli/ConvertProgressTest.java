package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ConvertProgressTest {
    @Test
    void barShowsPercentAndHumanSizesAndEndsTheLine() {
        StringWriter text = new StringWriter();
        ConvertProgress progress = new ConvertProgress(new PrintWriter(text), 4L << 30);
        progress.accept(1L << 30);
        progress.finish();
        assertThat(text.toString())
                .startsWith("\r[##########..............................]  25%  1.0 GiB / 4.0 GiB")
                .endsWith("\r[########################################] 100%  4.0 GiB / 4.0 GiB"
                        + System.lineSeparator());
    }

    @Test
    void progressIsOffUnlessAskedFor() {
        assertThat(ConvertProgress.wanted(false)).isFalse();
        assertThat(ConvertProgress.human(1023)).isEqualTo("1023 B");
        assertThat(ConvertProgress.human(1536)).isEqualTo("1.5 KiB");
    }
}
