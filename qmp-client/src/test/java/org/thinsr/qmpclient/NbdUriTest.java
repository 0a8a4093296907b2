package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NbdUriTest {
    @Test
    void unixUriAsQemuWritesItNamesTheSocketAndExport() {
        NbdUri uri = NbdUri.parse("nbd+unix:///disk-rw?socket=/run/qsd/nbd.sock");
        assertThat(uri).isEqualTo(NbdUri.unix(Path.of("/run/qsd/nbd.sock"), "disk-rw"));
        assertThat(uri.toString()).isEqualTo("nbd+unix:///disk-rw?socket=/run/qsd/nbd.sock");
    }

    @Test
    void unixUriWithoutExportSelectsTheDefaultExport() {
        assertThat(NbdUri.parse("nbd+unix:///?socket=qnbd.sock").exportName()).isEmpty();
        assertThat(NbdUri.parse("nbd+unix://?socket=qnbd.sock").socket()).isEqualTo(Path.of("qnbd.sock"));
    }

    @Test
    void tcpUriDefaultsToPort10809AndDecodesTheExportName() {
        assertThat(NbdUri.parse("nbd://example.org/my%20disk")).isEqualTo(NbdUri.tcp("example.org", 10809, "my disk"));
        assertThat(NbdUri.parse("nbd://[::1]:10900/")).isEqualTo(NbdUri.tcp("::1", 10900, ""));
        assertThat(NbdUri.tcp("::1", 10900, "a b").toString()).isEqualTo("nbd://[::1]:10900/a%20b");
    }

    @Test
    void malformedUrisAreRejectedWithTheReason() {
        assertThatThrownBy(() -> NbdUri.parse("nbd+unix:///disk")).hasMessageContaining("no socket=PATH");
        assertThatThrownBy(() -> NbdUri.parse("nbds://host/disk")).hasMessageContaining("TLS");
        assertThatThrownBy(() -> NbdUri.parse("http://host/disk")).hasMessageContaining("unknown scheme 'http'");
        assertThatThrownBy(() -> NbdUri.parse("/dev/nbd0")).hasMessageContaining("has no scheme");
        assertThatThrownBy(() -> NbdUri.parse("nbd+unix:///x?socket=a&tls=on")).hasMessageContaining("tls=on");
        assertThatThrownBy(() -> NbdUri.parse("nbd+unix://host/x?socket=a")).hasMessageContaining("no host");
    }
}
