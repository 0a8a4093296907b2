package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class VhdFooterTest {
    /**
     * The first 96 bytes of the footer {@code qemu-img create -f vpc -o subformat=dynamic,force_size=on
     * a.vhd 100000000} wrote (qemu-img 7.2.22, Debian 1:7.2+dfsg-7+deb12u18); the other 416 bytes
     * are zero.
     */
    private static final String QEMU_FOOTER_HEAD = "636f6e6563746978000000020001000000000000000002003297ef9c71656d32"
            + "000500035769326b0000000005f5e2000000000005f5e200ffff10ff00000003"
            + "ffffe8e847ce80a77dfb41d896746915930617ba000000000000000000000000";

    static byte[] qemuFooter() {
        byte[] footer = new byte[512];
        byte[] head = HexFormat.of().parseHex(QEMU_FOOTER_HEAD);
        System.arraycopy(head, 0, footer, 0, head.length);
        return footer;
    }

    @Test
    void checksumMatchesTheOneQemuWrote() throws Exception {
        byte[] bytes = qemuFooter();
        assertThat(VhdFormat.checksum(bytes, VhdFooter.CHECKSUM)).isEqualTo(0xffffe8e8);
        VhdFooter footer = VhdFooter.read(bytes, 0);
        assertThat(footer.creatorApplication()).isEqualTo("qem2");
        assertThat(footer.currentSize()).isEqualTo(100_000_256L);
        assertThat(footer.geometry()).isEqualTo(new VhdGeometry(65535, 16, 255));
        assertThat(footer.diskType()).contains(VhdDiskType.DYNAMIC);
        assertThat(footer.dataOffset()).isEqualTo(512);
        assertThat(footer.encode()).isEqualTo(bytes);
    }

    @Test
    void checksumOfZerosIsAllOnesAndIgnoresItsOwnField() {
        byte[] bytes = new byte[512];
        assertThat(VhdFormat.checksum(bytes, 64)).isEqualTo(0xFFFFFFFF);
        bytes[64] = 0x55;
        bytes[67] = 0x12;
        assertThat(VhdFormat.checksum(bytes, 64)).isEqualTo(0xFFFFFFFF);
        bytes[0] = 1;
        assertThat(VhdFormat.checksum(bytes, 64)).isEqualTo(0xFFFFFFFE);
    }

    @Test
    void aFlippedByteIsReportedWithOffsetFieldActualExpected() {
        byte[] bytes = qemuFooter();
        bytes[100] = 1;
        assertThatThrownBy(() -> VhdFooter.read(bytes, 4096))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage("offset 4160: footer checksum: actual 0xffffe8e8, expected 0xffffe8e7");
    }

    @Test
    void encodeDecodeRoundTripsEveryField() {
        VhdFooter footer = new VhdFooter(
                "conectix",
                2,
                0x00010000,
                512,
                0x12345678,
                "tap\0",
                0x00010003,
                "Wi2k",
                1L << 40,
                (1L << 40) + 512,
                VhdGeometry.of(1L << 40),
                4,
                0,
                UUID.fromString("01234567-89ab-cdef-0123-456789abcdef"),
                true);
        VhdFooter decoded = VhdFooter.decode(footer.encode());
        assertThat(decoded.checksum()).isEqualTo(VhdFormat.checksum(footer.encode(), VhdFooter.CHECKSUM));
        assertThat(decoded)
                .usingRecursiveComparison()
                .ignoringFields("checksum")
                .isEqualTo(footer);
    }
}
