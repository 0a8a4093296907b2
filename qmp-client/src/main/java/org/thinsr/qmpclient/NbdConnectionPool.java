package org.thinsr.qmpclient;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One or more connections to the same export: more than one only when the server advertises
 * {@code CAN_MULTI_CONN} (proto.md: otherwise clients SHOULD NOT open several). Requests go round
 * robin; a flush on any connection covers writes acknowledged on all of them. Thread-safe.
 */
final class NbdConnectionPool implements AutoCloseable {
    private final List<NbdConnection> connections;
    private final AtomicInteger next = new AtomicInteger();

    private NbdConnectionPool(List<NbdConnection> connections) {
        this.connections = List.copyOf(connections);
    }

    static NbdConnectionPool open(NbdUri uri, List<String> contexts, int wanted, NbdConnection.Options options)
            throws IOException {
        if (wanted < 1 || wanted > 16) {
            throw new IllegalArgumentException("connections is outside [1, 16]: " + wanted);
        }
        List<NbdConnection> connections = new ArrayList<>();
        NbdConnection first = NbdConnection.connect(uri, contexts, options);
        connections.add(first);
        try {
            int count = first.info().canMultiConn() ? wanted : 1;
            for (int i = 1; i < count; i++) {
                connections.add(NbdConnection.connect(uri, List.of(), options));
            }
        } catch (IOException | RuntimeException e) {
            for (NbdConnection connection : connections) {
                connection.close();
            }
            throw e;
        }
        return new NbdConnectionPool(connections);
    }

    /** A pool of the one connection given (negotiated on a channel of the caller's). */
    static NbdConnectionPool of(NbdConnection connection) {
        return new NbdConnectionPool(List.of(connection));
    }

    NbdConnection first() {
        return connections.getFirst();
    }

    NbdConnection get(int index) {
        return connections.get(index);
    }

    NbdConnection any() {
        return connections.get(Math.floorMod(next.getAndIncrement(), connections.size()));
    }

    int size() {
        return connections.size();
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (NbdConnection connection : connections) {
            try {
                connection.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
