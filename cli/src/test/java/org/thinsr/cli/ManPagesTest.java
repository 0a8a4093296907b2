package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ManPagesTest {
    private static final Path MAN_DIR = Path.of(System.getProperty("thinsr.man.dir", "../man"));

    @Test
    void everyCommandHasACurrentManPageWithTheHandWrittenSections() throws Exception {
        assertThat(ManPages.check(MAN_DIR)).as("man page problems").isEmpty();
    }

    @Test
    void everyCommandOfTheTreeIsListed() {
        assertThat(ManPages.commands(Main.commandLine()))
                .extracting(command -> ManPages.pageName(command.getCommandSpec()))
                .contains("thinsr", "thinsr-map");
    }

    @Test
    void everyErrorCodeIsNamedUnderItsExitStatusInThinsr1() throws Exception {
        String page = java.nio.file.Files.readString(MAN_DIR.resolve("thinsr.1"));
        String statuses = page.substring(page.indexOf("EXIT STATUS"), page.indexOf(".SH ENVIRONMENT"));
        for (org.thinsr.allocmap.ErrorCode code : org.thinsr.allocmap.ErrorCode.values()) {
            int entry = statuses.indexOf(".B " + code.exitStatus() + "\n");
            int next = statuses.indexOf(".TP", entry);
            assertThat(entry)
                    .as("an entry for exit status %d", code.exitStatus())
                    .isNotNegative();
            assertThat(statuses.substring(entry, next < 0 ? statuses.length() : next))
                    .as("exit status %d names %s", code.exitStatus(), code)
                    .contains("\\fB\\%" + code.name() + "\\fR"); // \% : never hyphenated
        }
    }

    @Test
    void troffSpecialsAreEscaped() {
        assertThat(ManPages.escape("--size a\\b")).isEqualTo("\\-\\-size a\\eb");
    }

    @Test
    void sectionsAreFoundQuotedOrNot() {
        assertThat(ManPages.hasSection(".SH EXAMPLES\nx\n.SH \"EXIT STATUS\"\n", "EXIT STATUS"))
                .isTrue();
        assertThat(ManPages.hasSection(".SH EXAMPLES\n", "SEE ALSO")).isFalse();
    }
}
