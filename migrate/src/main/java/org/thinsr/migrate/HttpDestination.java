package org.thinsr.migrate;

import java.io.IOException;
import java.util.List;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.httpexport.DiskStore;
import org.thinsr.httpexport.HttpDiskClient;

/**
 * A new VDI on another {@code thinsr serve}: created with {@code POST /vdis}, written with ranged
 * PUTs and PATCH zero, verified with {@code GET /vdis/{vdi}/checksum}, removed with DELETE on
 * failure.
 */
public final class HttpDestination implements Migration.Destination {
    private final HttpDiskClient client;
    private String vdi;
    private long virtualSize;
    private boolean created;

    public HttpDestination(HttpDiskClient client) {
        this.client = client;
    }

    @Override
    public String describe() {
        return client.base() + (vdi == null ? "" : " VDI " + vdi);
    }

    @Override
    public String key() {
        return "http:" + client.base();
    }

    @Override
    public String prepare(String nameLabel, long size) throws IOException {
        DiskStore.DiskInfo info = client.create(nameLabel, size);
        vdi = info.id();
        virtualSize = info.virtualSize();
        created = true;
        return vdi;
    }

    @Override
    public void reopen(String vdiId, long size) throws IOException {
        DiskStore.DiskInfo info = client.find(vdiId);
        vdi = info.id();
        virtualSize = info.virtualSize();
        created = true;
    }

    @Override
    public BlockSink openSink() {
        return client.sink(vdi, virtualSize);
    }

    @Override
    public List<String> checksums(int blockSize) throws IOException {
        return client.checksums(vdi, blockSize, virtualSize);
    }

    @Override
    public void setContentId(String contentId) {
        // the HTTP API has no key setting yet; the source records the content id
    }

    @Override
    public void discard() throws IOException {
        if (created && vdi != null) {
            client.delete(vdi);
        }
    }

    @Override
    public void close() {}
}
