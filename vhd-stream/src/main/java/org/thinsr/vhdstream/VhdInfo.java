package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Every footer and dynamic header field of a VHD file plus a summary of its BAT, read leniently
 * (for {@code thinsr vhd info}): checksums are reported, not enforced; {@link VhdCheck} judges.
 *
 * @param fileLength bytes of the file
 * @param footerOffset where {@link #footer()} was read: the trailing footer, or 0 when only the
 *     copy has the cookie
 * @param footer the footer as stored
 * @param footerChecksumOk whether the stored footer checksum matches the bytes
 * @param header the dynamic header, or null for a fixed disk (or when it could not be read)
 * @param headerChecksumOk whether the header checksum matches (false without a header)
 * @param batEntriesRead BAT entries read (fewer than max table entries if the file is too short)
 * @param batUsedEntries BAT entries that point to a block
 * @param allocatedBytes used entries × block size
 */
public record VhdInfo(
        long fileLength,
        long footerOffset,
        VhdFooter footer,
        boolean footerChecksumOk,
        VhdDynamicHeader header,
        boolean headerChecksumOk,
        long batEntriesRead,
        long batUsedEntries,
        long allocatedBytes) {
    /**
     * Reads the metadata of the VHD in {@code file}.
     *
     * @throws CorruptImageException when neither the last sector nor the first holds a footer
     *     cookie (not a VHD)
     */
    public static VhdInfo read(FileChannel file) throws IOException {
        VhdInput.Seekable input = new VhdInput.Seekable(file);
        long length = input.length();
        byte[] bytes = new byte[VhdFormat.FOOTER_SIZE];
        long footerOffset = findFooter(input, bytes);
        VhdFooter footer = VhdFooter.decode(bytes);
        boolean footerOk = VhdFormat.checksum(bytes, VhdFooter.CHECKSUM) == footer.checksum();
        if (footer.diskType().orElse(VhdDiskType.FIXED) == VhdDiskType.FIXED
                || footer.dataOffset() < 0
                || footer.dataOffset() > length - VhdFormat.HEADER_SIZE) {
            return new VhdInfo(length, footerOffset, footer, footerOk, null, false, 0, 0, 0);
        }
        byte[] headerBytes = new byte[VhdFormat.HEADER_SIZE];
        input.read(footer.dataOffset(), ByteBuffer.wrap(headerBytes), "dynamic header");
        VhdDynamicHeader header = VhdDynamicHeader.decode(headerBytes);
        boolean headerOk = VhdFormat.checksum(headerBytes, VhdDynamicHeader.CHECKSUM) == header.checksum();
        long table = header.tableOffset();
        long entries = Integer.toUnsignedLong(header.maxTableEntries());
        long readable = table < 0 || table >= length ? 0 : Math.min(entries, (length - table) / 4);
        long used = 0;
        ByteBuffer chunk = ByteBuffer.allocate(64 << 10).order(ByteOrder.BIG_ENDIAN);
        for (long done = 0; done < readable; ) {
            int n = (int) Math.min(chunk.capacity() / 4, readable - done);
            chunk.clear().limit(n * 4);
            input.read(table + done * 4, chunk, "BAT");
            chunk.flip();
            for (int i = 0; i < n; i++) {
                if (chunk.getInt() != VhdFormat.UNUSED_BAT_ENTRY) {
                    used++;
                }
            }
            done += n;
        }
        long allocated = used * Integer.toUnsignedLong(header.blockSize());
        return new VhdInfo(length, footerOffset, footer, footerOk, header, headerOk, readable, used, allocated);
    }

    /** The fields as ordered name/value pairs (values are numbers, booleans or strings). */
    public List<Map.Entry<String, Object>> fields() {
        List<Map.Entry<String, Object>> fields = new ArrayList<>();
        fields.add(Map.entry("file-length", fileLength));
        fields.add(Map.entry("footer-offset", footerOffset));
        fields.add(Map.entry("cookie", VhdFormat.printable(footer.cookie())));
        fields.add(Map.entry("features", VhdFooter.hex(footer.features())));
        fields.add(Map.entry("file-format-version", VhdFooter.hex(footer.formatVersion())));
        fields.add(Map.entry("data-offset", Long.toUnsignedString(footer.dataOffset())));
        fields.add(Map.entry("time-stamp", Integer.toUnsignedLong(footer.timestamp())));
        fields.add(Map.entry(
                "time-stamp-utc", VhdFormat.instantOf(footer.timestamp()).toString()));
        fields.add(Map.entry("creator-application", VhdFormat.printable(footer.creatorApplication())));
        fields.add(Map.entry("creator-version", VhdFooter.hex(footer.creatorVersion())));
        fields.add(Map.entry("creator-host-os", VhdFormat.printable(footer.creatorHostOs())));
        fields.add(Map.entry("original-size", footer.originalSize()));
        fields.add(Map.entry("current-size", footer.currentSize()));
        fields.add(Map.entry("geometry", footer.geometry().toString()));
        fields.add(Map.entry("geometry-size", footer.geometry().totalSectors() * VhdFormat.SECTOR_SIZE));
        fields.add(Map.entry(
                "disk-type",
                footer.diskType()
                        .map(t -> t.name().toLowerCase(java.util.Locale.ROOT))
                        .orElse("unknown " + Integer.toUnsignedString(footer.diskTypeCode()))));
        fields.add(Map.entry("footer-checksum", VhdFooter.hex(footer.checksum())));
        fields.add(Map.entry("footer-checksum-ok", footerChecksumOk));
        fields.add(Map.entry("unique-id", footer.uniqueId().toString()));
        fields.add(Map.entry("saved-state", footer.savedState()));
        if (header != null) {
            fields.add(Map.entry("header-cookie", VhdFormat.printable(header.cookie())));
            fields.add(Map.entry("table-offset", header.tableOffset()));
            fields.add(Map.entry("header-version", VhdFooter.hex(header.headerVersion())));
            fields.add(Map.entry("max-table-entries", Integer.toUnsignedLong(header.maxTableEntries())));
            fields.add(Map.entry("block-size", Integer.toUnsignedLong(header.blockSize())));
            fields.add(Map.entry("header-checksum", VhdFooter.hex(header.checksum())));
            fields.add(Map.entry("header-checksum-ok", headerChecksumOk));
            fields.add(Map.entry("parent-unique-id", header.parentUniqueId().toString()));
            fields.add(Map.entry("parent-time-stamp", Integer.toUnsignedLong(header.parentTimestamp())));
            fields.add(Map.entry("parent-unicode-name", header.parentUnicodeName()));
            for (int i = 0; i < header.parentLocators().size(); i++) {
                VhdParentLocator locator = header.parentLocators().get(i);
                if (locator.isUsed()) {
                    fields.add(Map.entry(
                            "parent-locator-" + i,
                            VhdFormat.printable(locator.platformName()) + " space "
                                    + Integer.toUnsignedLong(locator.dataSpace())
                                    + " length " + Integer.toUnsignedLong(locator.dataLength()) + " offset "
                                    + locator.dataOffset()));
                }
            }
            fields.add(Map.entry("bat-entries-read", batEntriesRead));
            fields.add(Map.entry("bat-used-entries", batUsedEntries));
            fields.add(Map.entry("allocated-bytes", allocatedBytes));
        }
        return fields;
    }

    /** One {@code name: value} line a field, names padded to a column. */
    public String toText() {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, Object> field : fields()) {
            out.append(String.format("%-22s %s%n", field.getKey() + ":", field.getValue()));
        }
        return out.toString();
    }

    /** One JSON object of the fields, keys in the order of {@link #fields()}. */
    public String toJson() {
        StringBuilder out = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, Object> field : fields()) {
            if (!first) {
                out.append(", ");
            }
            first = false;
            out.append(jsonString(field.getKey())).append(": ");
            Object value = field.getValue();
            if (value instanceof Number || value instanceof Boolean) {
                out.append(value);
            } else {
                out.append(jsonString(String.valueOf(value)));
            }
        }
        return out.append("}").toString();
    }

    /**
     * The footer of the VHD in {@code file} (the last sector's, else the copy in the first), without
     * reading the header or the BAT; fields are not checked beyond the cookie.
     *
     * @throws CorruptImageException when neither sector holds a footer cookie (not a VHD)
     */
    public static VhdFooter readFooter(FileChannel file) throws IOException {
        byte[] bytes = new byte[VhdFormat.FOOTER_SIZE];
        findFooter(new VhdInput.Seekable(file), bytes);
        return VhdFooter.decode(bytes);
    }

    /** Reads the footer into {@code bytes}; returns its offset. */
    private static long findFooter(VhdInput.Seekable input, byte[] bytes) throws IOException {
        long length = input.length();
        if (length < VhdFormat.FOOTER_SIZE) {
            throw CorruptImageException.at(0, "image length", length, "at least 512 bytes (a footer)");
        }
        long footerOffset = (length - 1) & ~(long) (VhdFormat.SECTOR_SIZE - 1);
        System.arraycopy(VhdImage.readTrailingFooter(input, footerOffset), 0, bytes, 0, VhdFormat.FOOTER_SIZE);
        if (!VhdFooter.hasCookie(bytes)) {
            input.read(0, ByteBuffer.wrap(bytes), "footer copy");
            footerOffset = 0;
            if (!VhdFooter.hasCookie(bytes)) {
                throw CorruptImageException.at(
                        length - VhdFormat.FOOTER_SIZE,
                        "footer cookie",
                        VhdFooter.quote(VhdFormat.ascii(bytes, 0, 8)),
                        "\"conectix\" in the last or the first sector");
            }
        }
        return footerOffset;
    }

    static String jsonString(String value) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
