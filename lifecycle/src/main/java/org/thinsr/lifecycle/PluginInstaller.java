package org.thinsr.lifecycle;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the SMAPIv3 wrappers: one small {@code sh} script per method that execs {@code COMMAND
 * plugin call METHOD "$@"}. Every word of the command is single-quoted; nothing is evaluated.
 * Volume methods (and {@code Plugin.Query}) go to the volume directory, datapath methods (and
 * {@code Plugin.Query}) to the datapath directory, which may be the same.
 */
public final class PluginInstaller {
    private PluginInstaller() {}

    /**
     * Installs the wrappers and returns the files written.
     *
     * @param command the thinsr launcher as an argument list (e.g. {@code [/usr/bin/thinsr]})
     */
    public static List<Path> install(Path volumeDirectory, Path datapathDirectory, List<String> command)
            throws IOException {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("command is empty");
        }
        List<Path> written = new ArrayList<>();
        for (String method : SmapiPlugin.VOLUME_METHODS) {
            written.add(write(volumeDirectory, method, command));
        }
        for (String method : SmapiPlugin.DATAPATH_METHODS) {
            written.add(write(datapathDirectory, method, command));
        }
        return written;
    }

    private static Path write(Path directory, String method, List<String> command) throws IOException {
        Files.createDirectories(directory);
        StringBuilder script =
                new StringBuilder("#!/bin/sh\n# thinsr SMAPIv3 wrapper: written by 'thinsr plugin install'\nexec");
        for (String word : command) {
            script.append(' ').append(quote(word));
        }
        script.append(" plugin call ").append(quote(method)).append(" \"$@\"\n");
        Path file = directory.resolve(method);
        Path temp = directory.resolve("." + method + ".tmp");
        Files.writeString(temp, script, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return file;
    }

    /** {@code word} in single quotes, each {@code '} written as {@code '\''}. */
    static String quote(String word) {
        if (word.indexOf('\0') >= 0 || word.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("command word holds a NUL or a newline");
        }
        return "'" + word.replace("'", "'\\''") + "'";
    }
}
