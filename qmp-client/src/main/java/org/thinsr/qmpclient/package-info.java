/**
 * thinsr qmp-client: talking to qemu.
 *
 * <ul>
 *   <li>QMP: {@link org.thinsr.qmpclient.QmpClient} (ids, several commands in flight, events to
 *       {@link org.thinsr.qmpclient.QmpEventListener}s, per-command timeouts, dead peers reported),
 *       {@link org.thinsr.qmpclient.QmpCommands} (typed block-layer commands) and {@link
 *       org.thinsr.qmpclient.QemuStorageDaemon} (a managed {@code qemu-storage-daemon}).
 *   <li>NBD: {@link org.thinsr.qmpclient.NbdHandshake} (fixed newstyle negotiation), {@link
 *       org.thinsr.qmpclient.NbdConnection} (pipelined transmission, structured replies, block
 *       status), {@link org.thinsr.qmpclient.NbdBlockSource} / {@link
 *       org.thinsr.qmpclient.NbdBlockSink} (the allocmap I/O contracts, multi-conn), {@link
 *       org.thinsr.qmpclient.NbdUri}.
 *   <li>Maps: {@link org.thinsr.qmpclient.QemuAllocation} ({@code base:allocation}, {@code
 *       qemu:allocation-depth}, {@code qemu:dirty-bitmap:*} and {@code qemu-img map} to {@link
 *       org.thinsr.allocmap.AllocationMap}s) and {@link org.thinsr.qmpclient.PullBackup}
 *       (checkpoints and point-in-time exports, the libvirt way).
 * </ul>
 *
 * <p>Protocol code only sees {@link java.nio.channels.ByteChannel}s; {@link
 * org.thinsr.qmpclient.SocketChannels} is the one place that opens sockets. Everything a peer
 * sends is bounded before it is allocated or looped over, and protocol violations are {@link
 * org.thinsr.allocmap.CorruptInputException}s naming what, where, actual and expected.
 */
package org.thinsr.qmpclient;
