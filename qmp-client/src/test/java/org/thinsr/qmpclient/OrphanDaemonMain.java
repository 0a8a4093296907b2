package org.thinsr.qmpclient;

import java.nio.file.Path;

/**
 * Run by {@link QemuStorageDaemonIT} in a child JVM: starts a daemon, prints its pid and exits
 * without closing it, so the test can check the shutdown hook killed it.
 */
final class OrphanDaemonMain {
    private OrphanDaemonMain() {}

    public static void main(String[] args) throws Exception {
        QemuStorageDaemon daemon = QemuStorageDaemon.builder(Path.of(args[0])).start();
        System.out.println(daemon.pid());
        System.out.flush();
        System.exit(0);
    }
}
