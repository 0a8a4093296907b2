package org.thinsr.qmpclient;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * The one place that knows about sockets: opens blocking {@link SocketChannel}s to unix sockets and
 * TCP ports. Protocol code only sees {@link java.nio.channels.ByteChannel}s.
 */
public final class SocketChannels {
    private SocketChannels() {}

    /** A connected blocking channel to the unix socket {@code path}; the caller closes it. */
    public static SocketChannel connectUnix(Path path) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(path));
            return channel;
        } catch (IOException e) {
            channel.close();
            throw new IOException("cannot connect to unix socket " + path + ": " + e.getMessage(), e);
        }
    }

    /** A connected blocking TCP channel with Nagle off; the caller closes it. */
    public static SocketChannel connectTcp(String host, int port) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            channel.connect(new InetSocketAddress(host, port));
            return channel;
        } catch (IOException e) {
            channel.close();
            throw new IOException("cannot connect to " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /** A connected channel to where {@code uri} points. */
    public static SocketChannel connect(NbdUri uri) throws IOException {
        return uri.isUnix() ? connectUnix(uri.socket()) : connectTcp(uri.host(), uri.port());
    }
}
