package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FileAllocation} against what {@code stat} and {@code qemu-img info} print for the same files. */
class FileAllocationIT {
    private static final Pattern ACTUAL_SIZE = Pattern.compile("\"actual-size\":\\s*(\\d+)");

    @TempDir
    Path dir;

    @Test
    void allocatedBytesEqualStatBlocksAndQemuImgActualSize() throws Exception {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-io", "qemu-utils");
        Tools.require("stat", "coreutils");
        Path empty = Files.createFile(dir.resolve("empty"));
        Path sparse = dir.resolve("sparse.raw");
        Tools.check("qemu-img", "create", "-q", "-f", "raw", sparse.toString(), "1G");
        Tools.check("qemu-io", "-f", "raw", "-c", "write -P 7 300M 3M", sparse.toString());
        Path qcow2 = dir.resolve("disk.qcow2");
        Tools.check("qemu-img", "create", "-q", "-f", "qcow2", qcow2.toString(), "10G");
        Tools.check("qemu-io", "-f", "qcow2", "-c", "write -P 9 5G 5M", qcow2.toString());
        for (Path file : List.of(empty, sparse, qcow2)) {
            String[] blocks =
                    Tools.check("stat", "-c", "%b %B", file.toString()).strip().split(" ");
            long statBytes = Long.parseLong(blocks[0]) * Long.parseLong(blocks[1]);
            Matcher actual =
                    ACTUAL_SIZE.matcher(Tools.check("qemu-img", "info", "-U", "--output=json", file.toString()));
            assertThat(actual.find())
                    .as("actual-size in qemu-img info of %s", file)
                    .isTrue();
            assertThat(FileAllocation.allocatedBytes(file)).as("%s", file).hasValue(statBytes);
            assertThat(statBytes).as("qemu-img's actual-size of %s", file).isEqualTo(Long.parseLong(actual.group(1)));
        }
        assertThat(FileAllocation.allocatedBytes(sparse).orElseThrow()).isBetween(3L << 20, 4L << 20);
        assertThatThrownBy(() -> FileAllocation.allocatedBytes(dir.resolve("missing")))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("missing");
    }
}
