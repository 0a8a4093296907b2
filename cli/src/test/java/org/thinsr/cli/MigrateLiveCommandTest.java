package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** {@code thinsr migrate --live}: option combinations refused before anything is touched. */
class MigrateLiveCommandTest {
    @Test
    void liveNeedsAnNbdDestination() {
        MainTest.Result result = MainTest.run("migrate", "web-disk", "--live", "--to", "http://host2:8080/");
        assertThat(result.status()).isEqualTo(2);
        assertThat(result.err())
                .contains("USAGE")
                .contains("actual 'http://host2:8080/'")
                .contains("expected an NBD export");
    }

    @Test
    void optionsOfTheSnapshotCopyAreRefusedWithLive() {
        for (String option : new String[] {"--verify", "--keep-partial", "--resume"}) {
            MainTest.Result result =
                    MainTest.run("migrate", "web-disk", "--live", option, "--to", "nbd://host2/web-disk");
            assertThat(result.status()).as(option).isEqualTo(2);
            assertThat(result.err()).contains("--live: " + option + " does not apply");
        }
        MainTest.Result result =
                MainTest.run("migrate", "web-disk", "--live", "--connections", "8", "--to", "nbd://host2/web-disk");
        assertThat(result.status()).isEqualTo(2);
        assertThat(result.err()).contains("--connections does not apply");
    }
}
