package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class VolumeNamesTest {
    private static final List<String> HOSTILE = List.of(
            "../x",
            "-rf",
            "x".repeat(300),
            "!@#$%^&*()",
            "$(reboot)",
            "",
            "日本語のディスク",
            "Ωμέγα",
            ".",
            "..",
            "...",
            "--",
            "a/b/../../etc/passwd",
            "snapshot",
            "pvmove0",
            "data_tmeta",
            "x_cdata_cmeta_corig_mlog_mimage_pmspare_rimage_rmeta_tdata_vorigin_vdata",
            "snapsnapshothot",
            "SNAPSHOT",
            "thinsr_pool",
            "\u0000\n\t",
            "name; rm -rf /",
            "`id`",
            "-",
            ".hidden");

    @Test
    void plainLabelIsKept() {
        assertThat(VolumeNames.base("web-01.disk_A+")).isEqualTo("web-01.disk_A+");
    }

    @Test
    void whiteSpaceAndSlashBecomeOneUnderscore() {
        assertThat(VolumeNames.base("my  big/disk")).isEqualTo("my_big_disk");
    }

    @Test
    void accentsAreDroppedAndOtherNonAsciiRemoved() {
        assertThat(VolumeNames.base("Données été")).isEqualTo("Donnees_ete");
        assertThat(VolumeNames.base("日本語")).isEqualTo("vdi");
    }

    @Test
    void pathTraversalLeavesNoSlashOrLeadingDot() {
        assertThat(VolumeNames.base("../x")).isEqualTo("_x");
        assertThat(VolumeNames.base("..")).isEqualTo("vdi");
        assertThat(VolumeNames.base(".")).isEqualTo("vdi");
    }

    @Test
    void leadingDashIsRemoved() {
        assertThat(VolumeNames.base("-rf")).isEqualTo("rf");
        assertThat(VolumeNames.base("--")).isEqualTo("vdi");
    }

    @Test
    void shellSyntaxLosesItsMetacharacters() {
        assertThat(VolumeNames.base("$(reboot)")).isEqualTo("reboot");
        assertThat(VolumeNames.base("`id`")).isEqualTo("id");
        assertThat(VolumeNames.base("name; rm -rf /")).isEqualTo("name_rm_-rf_");
    }

    @Test
    void onlySymbolsOrEmptyBecomeVdi() {
        assertThat(VolumeNames.base("!@#$%^&*()")).isEqualTo("vdi");
        assertThat(VolumeNames.base("")).isEqualTo("vdi");
        assertThat(VolumeNames.base(null)).isEqualTo("vdi");
    }

    @Test
    void longLabelIsCutToTheMaximum() {
        assertThat(VolumeNames.base("x".repeat(300))).hasSize(VolumeNames.MAX_LENGTH);
    }

    @Test
    void reservedSubstringsAreRemovedEvenWhenRemovalMakesNewOnes() {
        assertThat(VolumeNames.base("data_tmeta")).isEqualTo("data");
        assertThat(VolumeNames.base("snapsnapshothot")).isEqualTo("snaphot");
        assertThat(VolumeNames.base("_tm_tmetaeta")).isEqualTo("vdi");
        assertThat(VolumeNames.base("pvmove0")).isEqualTo("0");
        assertThat(VolumeNames.base("my_snapshot_1")).isEqualTo("my__1");
        assertThat(VolumeNames.base("SNAPSHOT")).isEqualTo("vdi");
    }

    @Test
    void reservedBackendNamesAreNeverReturned() {
        assertThat(VolumeNames.base("thinsr_pool")).isEqualTo("vdi");
        assertThat(VolumeNames.unique("thinsr_meta", name -> false)).isEqualTo("vdi");
    }

    @Test
    void everyHostileLabelGivesAValidName() {
        for (String label : HOSTILE) {
            String name = VolumeNames.unique(label, taken -> false);
            assertThat(VolumeNames.isValid(name))
                    .as("name %s of label %s", name, label)
                    .isTrue();
            assertThat(name).doesNotContain("/").doesNotStartWith("-").doesNotStartWith(".");
            assertThat(name.length()).isBetween(1, VolumeNames.MAX_LENGTH);
        }
    }

    @Test
    void hostileLabelsCreatedInTurnGetDistinctNames() {
        Set<String> names = new HashSet<>();
        for (int round = 0; round < 3; round++) {
            for (String label : HOSTILE) {
                String name = VolumeNames.unique(label, names::contains);
                assertThat(VolumeNames.isValid(name)).as(name).isTrue();
                assertThat(names.add(name)).as("%s is new", name).isTrue();
            }
        }
        assertThat(names).hasSize(3 * HOSTILE.size());
    }

    @Test
    void takenNameGetsNumberedSuffixes() {
        Set<String> taken = new HashSet<>(Set.of("web", "web_1"));
        assertThat(VolumeNames.unique("web", taken::contains)).isEqualTo("web_2");
    }

    @Test
    void suffixOnAMaximalNameKeepsTheLengthBound() {
        String label = "y".repeat(64);
        String name = VolumeNames.unique(label, candidate -> candidate.equals(label));
        assertThat(name).isEqualTo("y".repeat(62) + "_1").hasSize(64);
    }

    @Test
    void isValidRejectsWhatLvmRejects() {
        for (String bad : List.of("", ".", "..", "-a", "a/b", "a b", "x".repeat(65), "a_rimage", "snapshot1", ".x")) {
            assertThat(VolumeNames.isValid(bad)).as(bad).isFalse();
        }
        assertThat(VolumeNames.isValid("a-b.c+d_e")).isTrue();
    }

    @Test
    void requireValidThrowsInvalidArgumentWithEscapedName() {
        assertThatThrownBy(() -> VolumeNames.requireValid("a\nb")).isInstanceOfSatisfying(ThinsrException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains("a\\x0ab");
        });
    }
}
