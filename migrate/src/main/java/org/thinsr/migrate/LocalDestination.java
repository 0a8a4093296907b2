package org.thinsr.migrate;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockChecksums;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.lifecycle.Attachments;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.Progress;
import org.thinsr.lifecycle.Provisioning;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.VdiView;

/** A new thin VDI in another (or the same) SR of this host: {@code thinsr vdi-copy}. */
public final class LocalDestination implements Migration.Destination {
    private final Lifecycle lifecycle;
    private final Optional<SrRef> sr;
    private String vdiUuid;
    private boolean created;

    public LocalDestination(Lifecycle lifecycle, Optional<SrRef> sr) {
        this.lifecycle = lifecycle;
        this.sr = sr;
    }

    @Override
    public String describe() {
        return "SR " + sr.map(SrRef::text).orElse("(default)") + (vdiUuid == null ? "" : " VDI " + vdiUuid);
    }

    @Override
    public String key() {
        return "local:" + sr.map(SrRef::text).orElse("default");
    }

    @Override
    public String prepare(String nameLabel, long virtualSize) {
        VdiView vdi =
                lifecycle.vdiCreate(sr, nameLabel, "copy", virtualSize, Provisioning.THIN, Map.of(), Progress.NONE);
        vdiUuid = vdi.uuid();
        created = true;
        lifecycle.vdiAttach(sr, vdiUuid, false);
        return vdiUuid;
    }

    @Override
    public void reopen(String vdiId, long virtualSize) {
        lifecycle.vdiStat(sr, vdiId);
        vdiUuid = vdiId;
        created = true;
        lifecycle.vdiAttach(sr, vdiUuid, false);
    }

    @Override
    public BlockSink openSink() throws IOException {
        return Attachments.openSink(lifecycle.vdiAttach(sr, vdiUuid, false));
    }

    @Override
    public List<String> checksums(int blockSize) throws IOException {
        lifecycle.vdiDetach(sr, vdiUuid);
        AllocationMap map = lifecycle.vdiMap(sr, vdiUuid);
        try (BlockSource source = Attachments.openSource(lifecycle.vdiAttach(sr, vdiUuid, true))) {
            return List.of(BlockChecksums.compute(source, map, blockSize, 0, map.virtualSize()));
        } finally {
            lifecycle.vdiDetach(sr, vdiUuid);
        }
    }

    @Override
    public void setContentId(String contentId) {
        lifecycle.vdiSet(
                sr, vdiUuid, Optional.empty(), Optional.empty(), Map.of(Lifecycle.KEY_CONTENT_ID, contentId), Set.of());
    }

    @Override
    public void discard() {
        if (created && vdiUuid != null) {
            lifecycle.vdiDetach(sr, vdiUuid);
            lifecycle.vdiDestroy(sr, vdiUuid);
        }
    }

    @Override
    public void close() {
        if (vdiUuid != null) {
            lifecycle.vdiDetach(sr, vdiUuid);
        }
    }
}
