package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/** Test helper: the allocation map of a raw file as {@code qemu-img map --output=json} prints it. */
final class QemuMap {
    private static final Pattern ENTRY = Pattern.compile(
            "\"start\": (\\d+), \"length\": (\\d+), \"depth\": \\d+, \"present\": (?:true|false), \"zero\": (true|false),"
                    + " \"data\": (true|false)");

    private QemuMap() {}

    static AllocationMap of(Path raw, long size) throws IOException, InterruptedException {
        String json = Tools.check("qemu-img", "map", "--output=json", "-f", "raw", raw.toString());
        AllocationMap.Builder builder = AllocationMap.builder(size);
        Matcher matcher = ENTRY.matcher(json);
        while (matcher.find()) {
            long start = Long.parseLong(matcher.group(1));
            long length = Long.parseLong(matcher.group(2));
            boolean zero = Boolean.parseBoolean(matcher.group(3));
            boolean data = Boolean.parseBoolean(matcher.group(4));
            State state = data ? (zero ? State.ZERO : State.DATA) : State.HOLE;
            builder.add(start, start + length, state, Provenance.LOCAL);
        }
        return builder.build();
    }
}
