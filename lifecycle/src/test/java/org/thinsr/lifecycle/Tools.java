package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helper: a missing tool fails the test with the Debian package to install. */
final class Tools {
    private Tools() {}

    /** The absolute path of {@code tool} on PATH; fails naming {@code debianPackage} when absent. */
    static Path require(String tool, String debianPackage) {
        String pathVariable = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String directory : pathVariable.split(File.pathSeparator, -1)) {
            Path candidate = Path.of(directory.isEmpty() ? "." : directory, tool);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        for (String directory : new String[] {"/usr/sbin", "/sbin"}) {
            Path candidate = Path.of(directory, tool);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return fail("'" + tool + "' is not installed: install the Debian package " + debianPackage);
    }
}
