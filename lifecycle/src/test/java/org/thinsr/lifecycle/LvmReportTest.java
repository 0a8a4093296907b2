package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class LvmReportTest {
    /** Shaped like lvm2 2.03.16's `lvs --reportformat json --units b --nosuffix -o LV_FIELDS,VG_FIELDS`. */
    private static final String LVS = """
              {
                  "report": [
                      {
                          "lv": [
                              {"lv_name":"disk0", "lv_size":"12582912", "lv_attr":"Vwi---tz-k", "lv_tags":"thinsr,thinsr_snapshot", "pool_lv":"thinsr_pool", "origin":"", "thin_id":"3", "data_percent":"", "metadata_percent":"", "lv_metadata_size":"", "chunk_size":"0", "segtype":"thin", "vg_name":"vg0", "vg_size":"4290772992", "vg_free":"3997171712", "vg_extent_size":"4194304", "vg_tags":"thinsr_owned"},
                              {"lv_name":"thinsr_pool", "lv_size":"218103808", "lv_attr":"twi-aotz--", "lv_tags":"thinsr", "pool_lv":"", "origin":"", "thin_id":"", "data_percent":"12.50", "metadata_percent":"10.94", "lv_metadata_size":"4194304", "chunk_size":"65536", "segtype":"thin-pool", "vg_name":"vg0", "vg_size":"4290772992", "vg_free":"3997171712", "vg_extent_size":"4194304", "vg_tags":"thinsr_owned"}
                          ]
                      }
                  ]
              }
            """;

    @Test
    void logicalVolumesAndTheirGroupAreRead() {
        List<LvmReport.LogicalVolume> volumes = LvmReport.parseLogicalVolumes(LVS);
        assertThat(volumes).hasSize(2);
        LvmReport.LogicalVolume disk = volumes.getFirst();
        assertThat(disk.isThinVolume()).isTrue();
        assertThat(disk.isActive()).isFalse();
        assertThat(disk.thinId()).isEqualTo(3);
        assertThat(disk.dataPercent()).isEqualTo(-1);
        assertThat(disk.tags()).containsExactlyInAnyOrder("thinsr", "thinsr_snapshot");
        LvmReport.LogicalVolume pool = volumes.get(1);
        assertThat(pool.isThinPool()).isTrue();
        assertThat(pool.isActive()).isTrue();
        assertThat(pool.chunkSizeBytes()).isEqualTo(65536);
        assertThat(pool.dataPercent()).isEqualTo(12.5);
        assertThat(LvmReport.parseVolumeGroups(LVS, "lv").getFirst())
                .isEqualTo(new LvmReport.VolumeGroup(
                        "vg0", 4290772992L, 3997171712L, 4194304, java.util.Set.of("thinsr_owned")));
    }

    @Test
    void malformedReportsAreToolFailuresNamingTheField() {
        for (String bad : List.of(
                "",
                "[]",
                "{\"report\": 3}",
                "{\"report\":[{\"lv\":[3]}]}",
                LVS.replace("\"12582912\"", "\"12M\""),
                LVS.replace("\"12.50\"", "\"250\""),
                LVS.replace("\"lv_attr\":\"Vwi---tz-k\",", ""))) {
            assertThatThrownBy(() -> LvmReport.parseLogicalVolumes(bad))
                    .as(bad)
                    .isInstanceOfSatisfying(
                            ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TOOL_FAILED));
        }
        assertThatThrownBy(() -> LvmReport.parseLogicalVolumes(LVS.replace("\"12582912\"", "\"12M\"")))
                .hasMessageContaining("lv_size")
                .hasMessageContaining("12M");
    }

    @Test
    void volumeNamesAreCheckedBeforeAnyCommand() {
        for (String good : List.of("disk0", "a.b+c_d-e", "x".repeat(64))) {
            LvmThinBackend.checkName(good);
        }
        for (String bad : List.of(
                "",
                ".",
                "..",
                "-rf",
                "a/b",
                "a b",
                "snapshot1",
                "pvmove0",
                "x_tmeta",
                "thinsr_pool",
                "x".repeat(65),
                "é")) {
            assertThatThrownBy(() -> LvmThinBackend.checkName(bad))
                    .as(bad)
                    .isInstanceOfSatisfying(
                            ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
        }
        assertThat(LvmThinBackend.dmName("my-vg", "a-b")).isEqualTo("my--vg-a--b");
    }

    @Test
    void originTagRoundTripsAnyLocationAndRefusesAMangledOne() {
        Origin origin = new Origin("/srv/templates/débian 12 (x).qcow2", "qcow2", 10L << 30);
        String tag = LvmThinBackend.originTag(origin);
        assertThat(tag).matches("[A-Za-z0-9_+.:-]+");
        LvmReport.LogicalVolume lv = new LvmReport.LogicalVolume(
                "v",
                1 << 20,
                "Vwi---tz-k",
                java.util.Set.of("thinsr", tag),
                "thinsr_pool",
                "",
                1,
                -1,
                -1,
                0,
                0,
                "thin");
        assertThat(LvmThinBackend.originTag(lv))
                .contains(new LvmThinBackend.OriginTag("qcow2", 10L << 30, origin.location()));
        LvmReport.LogicalVolume mangled = new LvmReport.LogicalVolume(
                "v",
                1 << 20,
                "Vwi---tz-k",
                java.util.Set.of("thinsr_origin:qcow2:12:zz"),
                "p",
                "",
                1,
                -1,
                -1,
                0,
                0,
                "thin");
        assertThatThrownBy(() -> LvmThinBackend.originTag(mangled))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_INPUT));
    }
}
