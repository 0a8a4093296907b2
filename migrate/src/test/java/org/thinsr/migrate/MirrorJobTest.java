package org.thinsr.migrate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.qmpclient.NbdUri;

class MirrorJobTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String text) throws Exception {
        return JSON.readTree(text);
    }

    @Test
    void runningMirrorReportsItsProgressInBytes() throws Exception {
        JsonNode reply = json("""
                [{"id": "backup-1", "type": "backup", "status": "running",
                  "current-progress": 5, "total-progress": 10},
                 {"id": "live-1", "type": "mirror", "status": "running",
                  "current-progress": 1048576, "total-progress": 67108864}]""");
        MirrorJob job = MirrorJob.find(reply, "live-1").orElseThrow();
        assertThat(job.status()).isEqualTo(MirrorJob.Status.RUNNING);
        assertThat(job.currentBytes()).isEqualTo(1048576);
        assertThat(job.totalBytes()).isEqualTo(67108864);
        assertThat(job.doneBytes()).isEqualTo(1048576);
        assertThat(job.error()).isNull();
    }

    @Test
    void failedJobCarriesQemusMessage() throws Exception {
        JsonNode reply = json("""
                [{"id": "live-1", "type": "mirror", "status": "concluded",
                  "current-progress": 0, "total-progress": 4096, "error": "Input/output error"}]""");
        MirrorJob job = MirrorJob.find(reply, "live-1").orElseThrow();
        assertThat(job.status()).isEqualTo(MirrorJob.Status.CONCLUDED);
        assertThat(job.error()).isEqualTo("Input/output error");
    }

    @Test
    void everyJobStatusOfQemuIsKnown() throws Exception {
        for (String name : new String[] {
            "undefined",
            "created",
            "running",
            "paused",
            "ready",
            "standby",
            "waiting",
            "pending",
            "aborting",
            "concluded",
            "null"
        }) {
            assertThat(MirrorJob.Status.parse(name).qmpName()).isEqualTo(name);
        }
    }

    @Test
    void progressPastTheTotalIsClampedForTheBar() throws Exception {
        MirrorJob job = MirrorJob.find(
                        json("[{\"id\":\"j\",\"status\":\"ready\",\"current-progress\":9,\"total-progress\":8}]"), "j")
                .orElseThrow();
        assertThat(job.doneBytes()).isEqualTo(8);
    }

    @Test
    void absentJobIsEmpty() throws Exception {
        assertThat(MirrorJob.find(json("[]"), "live-1")).isEmpty();
    }

    @Test
    void malformedRepliesAreRejectedWithWhatWasFound() {
        assertThatThrownBy(() -> MirrorJob.find(json("{}"), "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("OBJECT")
                .hasMessageContaining("an array");
        assertThatThrownBy(() -> MirrorJob.find(json("[1]"), "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("an object");
        assertThatThrownBy(() -> MirrorJob.find(
                        json("[{\"id\":\"j\",\"status\":\"running\",\"current-progress\":-1,\"total-progress\":8}]"),
                        "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("current-progress")
                .hasMessageContaining("-1");
        assertThatThrownBy(
                        () -> MirrorJob.find(json("[{\"id\":\"j\",\"status\":\"running\",\"total-progress\":8}]"), "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("current-progress")
                .hasMessageContaining("missing");
        assertThatThrownBy(() -> MirrorJob.find(
                        json("[{\"id\":\"j\",\"status\":\"running\",\"current-progress\":\"1\",\"total-progress\":8}]"),
                        "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("an integer");
        assertThatThrownBy(() -> MirrorJob.find(
                        json("[{\"id\":\"j\",\"status\":\"flying\",\"current-progress\":1,\"total-progress\":8}]"),
                        "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("'flying'");
        assertThatThrownBy(() -> MirrorJob.find(
                        json("[{\"id\":\"j\",\"status\":\"concluded\",\"current-progress\":1,"
                                + "\"total-progress\":8,\"error\":{}}]"),
                        "j"))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("error");
    }

    @Test
    void liveDestinationMustBeAnNbdUri() {
        assertThat(LiveMirror.destination("nbd://host:10810/disk")).isEqualTo(NbdUri.tcp("host", 10810, "disk"));
        assertThat(LiveMirror.destination("nbd+unix:///disk?socket=/run/d.sock"))
                .isEqualTo(NbdUri.unix(Path.of("/run/d.sock"), "disk"));
        for (String wrong : new String[] {"http://host:8080/", "/dev/sdb", "nbds://host/disk", "nbd+unix:///disk"}) {
            assertThatThrownBy(() -> LiveMirror.destination(wrong))
                    .isInstanceOfSatisfying(
                            ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE))
                    .hasMessageContaining(wrong)
                    .hasMessageContaining("expected");
        }
    }

    @Test
    void destinationNodeIsAnNbdBlockdevOfTheUri() throws Exception {
        assertThat(LiveMirror.nbdNode("n", NbdUri.unix(Path.of("/run/d.sock"), "disk")))
                .isEqualTo(json("""
                        {"driver": "nbd", "node-name": "n",
                         "server": {"type": "unix", "path": "/run/d.sock"}, "export": "disk"}"""));
        assertThat(LiveMirror.nbdNode("n", NbdUri.tcp("10.0.0.2", 10809, ""))).isEqualTo(json("""
                        {"driver": "nbd", "node-name": "n",
                         "server": {"type": "inet", "host": "10.0.0.2", "port": "10809"}}"""));
    }
}
