package org.thinsr.lifecycle;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Parses the JSON reports of {@code lvs}/{@code vgs} run with {@code --reportformat json --units b
 * --nosuffix -o} {@link #LV_FIELDS} / {@link #VG_FIELDS}:
 *
 * <pre>
 * {"report": [ {"lv": [ {"lv_name": "disk0", "lv_size": "12582912", "lv_tags": "thinsr,...", ...}, ... ]} ]}
 * </pre>
 *
 * Every value is a string; sizes are bytes. The output is lvm's, but it is still checked: a
 * missing field, a malformed number or more than {@value #MAX_ROWS} rows is a {@code TOOL_FAILED}
 * naming the field and the row.
 */
final class LvmReport {
    /** The {@code -o} list matching {@link LogicalVolume}. */
    static final String LV_FIELDS =
            "lv_name,lv_size,lv_attr,lv_tags,pool_lv,origin,thin_id,data_percent,metadata_percent,"
                    + "lv_metadata_size,chunk_size,segtype";
    /** The {@code -o} list matching {@link VolumeGroup}. */
    static final String VG_FIELDS = "vg_name,vg_size,vg_free,vg_extent_size,vg_tags";

    static final int MAX_ROWS = 100_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private LvmReport() {}

    /**
     * One row of {@code lvs}.
     *
     * @param attr the 10-character {@code lv_attr}: [0] volume type ({@code t} pool, {@code V} thin,
     *     {@code -} linear, ...), [1] permission ({@code w}, {@code r}, {@code R} read-only
     *     activation), [4] state ({@code a} active), [5] open ({@code o})
     * @param thinId the dm-thin device id, or -1 when not a thin volume
     * @param dataPercent pool or thin data usage in percent, or -1 when not reported
     */
    record LogicalVolume(
            String name,
            long sizeBytes,
            String attr,
            Set<String> tags,
            String pool,
            String origin,
            long thinId,
            double dataPercent,
            double metadataPercent,
            long metadataSizeBytes,
            long chunkSizeBytes,
            String segmentType) {
        LogicalVolume {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(attr, "attr");
            tags = Set.copyOf(tags);
            if (sizeBytes < 0) {
                throw new IllegalArgumentException("sizeBytes is negative: " + sizeBytes);
            }
        }

        boolean isThinVolume() {
            return segmentType.equals("thin");
        }

        boolean isThinPool() {
            return segmentType.equals("thin-pool");
        }

        boolean isActive() {
            return attr.length() > 4 && attr.charAt(4) == 'a';
        }

        /** Read-only in the metadata ({@code r}) or activated read-only ({@code R}). */
        boolean isReadOnlyPermission() {
            return attr.length() > 1 && attr.charAt(1) == 'r';
        }

        boolean isActivatedReadOnly() {
            return attr.length() > 1 && (attr.charAt(1) == 'r' || attr.charAt(1) == 'R');
        }
    }

    /** One row of {@code vgs}. */
    record VolumeGroup(String name, long sizeBytes, long freeBytes, long extentSizeBytes, Set<String> tags) {
        VolumeGroup {
            Objects.requireNonNull(name, "name");
            tags = Set.copyOf(tags);
            if (sizeBytes < 0 || freeBytes < 0 || freeBytes > sizeBytes) {
                throw new IllegalArgumentException("VG " + name + ": free " + freeBytes + " of size " + sizeBytes);
            }
            if (extentSizeBytes <= 0) {
                throw new IllegalArgumentException("VG " + name + ": extent size " + extentSizeBytes);
            }
        }
    }

    static List<LogicalVolume> parseLogicalVolumes(String json) {
        List<LogicalVolume> volumes = new ArrayList<>();
        for (JsonNode row : rows(json, "lv")) {
            volumes.add(new LogicalVolume(
                    text(row, "lv_name"),
                    bytes(row, "lv_size"),
                    text(row, "lv_attr"),
                    tags(row, "lv_tags"),
                    text(row, "pool_lv"),
                    text(row, "origin"),
                    optionalLong(row, "thin_id"),
                    percent(row, "data_percent"),
                    percent(row, "metadata_percent"),
                    Math.max(0, optionalLong(row, "lv_metadata_size")),
                    Math.max(0, optionalLong(row, "chunk_size")),
                    text(row, "segtype")));
        }
        return volumes;
    }

    static List<VolumeGroup> parseVolumeGroups(String json) {
        return parseVolumeGroups(json, "vg");
    }

    /**
     * The VG columns of a report: {@code kind} is {@code vg} for vgs, or {@code lv} for an lvs
     * report run with {@code -o} {@link #LV_FIELDS}{@code ,}{@link #VG_FIELDS} (one row per LV).
     */
    static List<VolumeGroup> parseVolumeGroups(String json, String kind) {
        List<VolumeGroup> groups = new ArrayList<>();
        for (JsonNode row : rows(json, kind)) {
            try {
                groups.add(new VolumeGroup(
                        text(row, "vg_name"),
                        bytes(row, "vg_size"),
                        bytes(row, "vg_free"),
                        bytes(row, "vg_extent_size"),
                        tags(row, "vg_tags")));
            } catch (IllegalArgumentException e) {
                throw failure("vgs report: " + e.getMessage());
            }
        }
        return groups;
    }

    private static List<JsonNode> rows(String json, String kind) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw failure("lvm " + kind + " report is not JSON: " + e.getOriginalMessage());
        }
        JsonNode report = root == null ? null : root.get("report");
        if (report == null || !report.isArray()) {
            throw failure("lvm " + kind + " report: no \"report\" array in " + abbreviate(json));
        }
        List<JsonNode> rows = new ArrayList<>();
        for (JsonNode section : report) {
            JsonNode list = section.get(kind);
            if (list == null) {
                continue;
            }
            if (!list.isArray()) {
                throw failure("lvm report: \"" + kind + "\" is not an array");
            }
            for (JsonNode row : list) {
                if (rows.size() == MAX_ROWS) {
                    throw failure("lvm report: more than " + MAX_ROWS + " " + kind + " rows");
                }
                if (!row.isObject()) {
                    throw failure("lvm report: " + kind + " row " + rows.size() + " is not an object");
                }
                rows.add(row);
            }
        }
        return rows;
    }

    private static String text(JsonNode row, String field) {
        JsonNode value = row.get(field);
        if (value == null || !value.isTextual()) {
            throw failure("lvm report: field " + field + " missing or not a string in " + abbreviate(row.toString()));
        }
        return value.asText();
    }

    private static long bytes(JsonNode row, String field) {
        long value = optionalLong(row, field);
        if (value < 0) {
            throw failure("lvm report: field " + field + " is empty in " + abbreviate(row.toString()));
        }
        return value;
    }

    /** A non-negative integer, or -1 for an empty value. */
    private static long optionalLong(JsonNode row, String field) {
        String value = text(row, field);
        if (value.isEmpty()) {
            return -1;
        }
        try {
            long parsed = Long.parseLong(value);
            if (parsed < 0) {
                throw new NumberFormatException("negative");
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw failure("lvm report: field " + field + ": actual '" + abbreviate(value)
                    + "', expected a non-negative integer (run with --units b --nosuffix)");
        }
    }

    private static double percent(JsonNode row, String field) {
        String value = text(row, field);
        if (value.isEmpty()) {
            return -1;
        }
        try {
            double parsed = Double.parseDouble(value);
            if (!(parsed >= 0 && parsed <= 100)) {
                throw new NumberFormatException("outside [0, 100]");
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw failure("lvm report: field " + field + ": actual '" + abbreviate(value)
                    + "', expected a percentage in [0, 100]");
        }
    }

    private static Set<String> tags(JsonNode row, String field) {
        String value = text(row, field);
        if (value.isEmpty()) {
            return Set.of();
        }
        return Arrays.stream(value.split(",", -1)).collect(Collectors.toUnmodifiableSet());
    }

    private static String abbreviate(String text) {
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }

    private static ThinsrException failure(String message) {
        return new ThinsrException(ErrorCode.TOOL_FAILED, message);
    }
}
