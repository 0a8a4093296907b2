package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class MainTest {
    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(status, out.toString(), err.toString());
    }

    @Test
    void versionPrintsTheProjectVersion() {
        Result result = run("--version");
        assertThat(result.status()).isZero();
        assertThat(result.out()).startsWith("thinsr ").doesNotContain("${");
    }

    @Test
    void helpListsTheMapCommand() {
        Result result = run("--help");
        assertThat(result.status()).isZero();
        assertThat(result.out()).contains("map");
    }

    @Test
    void unknownOptionIsAUsageErrorWithExitStatus2AndOneLine() {
        Result result = run("--no-such-option");
        assertThat(result.status()).isEqualTo(2);
        assertThat(result.err()).startsWith("thinsr: USAGE: ").contains("--no-such-option");
        assertThat(result.err().lines()).hasSize(2);
    }

    @Test
    void domainFailuresKeepTheirCode() {
        assertThat(ErrorReporter.classify(new ThinsrException(ErrorCode.VDI_IS_TEMPLATE, "x"))
                        .code())
                .isEqualTo(ErrorCode.VDI_IS_TEMPLATE);
        assertThat(ErrorReporter.classify(new CorruptInputException("bad"))
                        .code()
                        .exitStatus())
                .isEqualTo(3);
    }
}
