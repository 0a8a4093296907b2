package org.thinsr.migrate;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.BooleanSupplier;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockChecksums;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.Attachments;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.VdiView;

/**
 * Moves a VDI's content to a {@link Destination} by its allocation map.
 *
 * <ol>
 *   <li>Snapshot the source; create the destination VDI of the same virtual size.
 *   <li>Copy the snapshot's DATA extents (holes and zero runs are never sent).
 *   <li>While the source is in use (attached) and changes, snapshot again and copy the delta between
 *       the two snapshots, at most {@code maxDeltaPasses} times or until the delta is below the
 *       threshold; the last pass is the final one.
 *   <li>Verify (optional): SHA-256 of every block on both sides; the first mismatch fails.
 *   <li>Record the same {@code content_id} on the source (and where possible the destination).
 * </ol>
 *
 * On failure or cancellation the destination VDI it created is removed and the snapshots are
 * destroyed, unless {@code keepPartial}: then the destination, the last snapshot, the journal and a
 * state file stay, and {@link #resume} continues without resending finished extents. The source is
 * never modified except for the snapshots it makes (and its {@code content_id} key on success).
 */
public final class Migration {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where the content goes. Implementations for another SR, a thinsr server, and an NBD export. */
    public interface Destination extends Closeable {
        /** For messages: {@code http://host:8080/ VDI x}, {@code SR /srv/sr2}, ... */
        String describe();

        /** A stable key of the destination for the resume state. */
        String key();

        /** Creates the destination VDI (or checks the given one) and returns its id. */
        String prepare(String nameLabel, long virtualSize) throws IOException;

        /** Reopens a VDI made by an earlier {@link #prepare} (for resume). */
        void reopen(String vdiId, long virtualSize) throws IOException;

        /** A writer of the destination VDI; one per copy worker. */
        BlockSink openSink() throws IOException;

        /** SHA-256 per block of the destination (see {@link BlockChecksums}). */
        List<String> checksums(int blockSize) throws IOException;

        /** Records the content id on the destination, where it can. */
        void setContentId(String contentId) throws IOException;

        /** Removes the VDI that {@link #prepare} created (nothing when it created none). */
        void discard() throws IOException;

        /**
         * Whether {@link #prepare} may run on another thread while the source is snapshotted: it
         * touches nothing of this host's SRs (a remote server). The default: no.
         */
        default boolean preparesAside() {
            return false;
        }

        /**
         * Refuses, before anything is snapshotted, made or sent, the options this destination cannot
         * honour ({@code USAGE}). The default accepts all.
         */
        default void checkOptions(Options options) {}

        /**
         * Runs one copy pass of {@code plan}, reading through sources from {@code sources} (the
         * implementation closes what it opens). The default: {@link SparseCopier} workers writing by
         * position through {@link #openSink}. A destination that takes one ordered stream per pass
         * overrides it.
         */
        default SparseCopier.Result copy(
                CopyPlan plan,
                SparseCopier.Opener<BlockSource> sources,
                SparseCopier.Options options,
                Optional<CopyJournal> journal,
                SparseCopier.Listener listener,
                BooleanSupplier cancelled)
                throws IOException {
            return SparseCopier.copy(plan, sources, this::openSink, options, journal, listener, cancelled);
        }
    }

    /** Progress of a migration, for bars and JSON events. */
    public interface Listener {
        void pass(int pass, long bytesToSend, long bytesToZero);

        void progress(int pass, long sentBytes, long zeroedBytes, long totalDataBytes, long totalZeroBytes);
    }

    /**
     * How a migration runs.
     *
     * @param maxDeltaPasses delta passes after the full copy while the source is in use
     * @param deltaThresholdBytes a delta smaller than this ends the passes
     * @param stateDirectory where the journal and resume state live
     */
    public record Options(
            SparseCopier.Options copy,
            int maxDeltaPasses,
            long deltaThresholdBytes,
            boolean verify,
            int verifyBlockBytes,
            boolean keepPartial,
            Path stateDirectory) {
        public Options {
            Objects.requireNonNull(copy, "copy");
            Objects.requireNonNull(stateDirectory, "stateDirectory");
            if (maxDeltaPasses < 0 || maxDeltaPasses > 100) {
                throw new IllegalArgumentException("delta passes: actual " + maxDeltaPasses + ", expected 0 to 100");
            }
            BlockChecksums.checkBlockSize(verifyBlockBytes);
        }
    }

    /** What a migration did. */
    public record Report(
            String destinationVdi,
            long virtualSize,
            long allocatedBytes,
            long sentBytes,
            long zeroedBytes,
            long skippedBytes,
            int passes,
            boolean verified,
            String contentId,
            double seconds) {}

    private final Lifecycle lifecycle;
    private final Optional<SrRef> sr;
    private final Destination destination;
    private final Options options;
    private final Listener listener;
    private final BooleanSupplier cancelled;

    public Migration(
            Lifecycle lifecycle,
            Optional<SrRef> sr,
            Destination destination,
            Options options,
            Listener listener,
            BooleanSupplier cancelled) {
        this.lifecycle = lifecycle;
        this.sr = sr;
        this.destination = destination;
        this.options = options;
        this.listener = listener;
        this.cancelled = cancelled;
    }

    private Path stateFile(String vdiUuid) {
        return options.stateDirectory()
                .resolve(vdiUuid + "-" + Integer.toHexString(destination.key().hashCode()) + ".json");
    }

    private Path journalFile(String vdiUuid) {
        return options.stateDirectory()
                .resolve(vdiUuid + "-" + Integer.toHexString(destination.key().hashCode()) + ".journal");
    }

    /** Starts a new migration of {@code vdiUuid}. */
    public Report run(String vdiUuid) throws IOException {
        long started = System.nanoTime();
        destination.checkOptions(options);
        VdiView source = lifecycle.vdiStat(sr, vdiUuid);
        if (source.uri() != null) {
            throw new ThinsrException(ErrorCode.VDI_IS_TEMPLATE, "VDI " + vdiUuid + " is a template: nothing to move");
        }
        Files.createDirectories(options.stateDirectory());
        if (Files.exists(stateFile(vdiUuid))) {
            throw new ThinsrException(
                    ErrorCode.VDI_IN_USE,
                    "an interrupted migration of " + vdiUuid + " to " + destination.describe() + " exists ("
                            + stateFile(vdiUuid) + "): continue it with --resume");
        }
        // a remote destination is created while the source is snapshotted: one round trip less
        FutureTask<String> preparing = null;
        if (destination.preparesAside()) {
            preparing = new FutureTask<>(() -> destination.prepare(source.nameLabel(), source.virtualSizeBytes()));
            Thread.ofVirtual().name("thinsr-prepare").start(preparing);
        }
        VdiView snapshot;
        try {
            snapshot = lifecycle.vdiSnapshot(sr, vdiUuid);
        } catch (RuntimeException e) {
            if (preparing != null) {
                discardPrepared(preparing, e); // nothing to resume without a snapshot
            }
            throw e;
        }
        String destinationVdi = null;
        try {
            destinationVdi = preparing != null
                    ? prepared(preparing)
                    : destination.prepare(source.nameLabel(), source.virtualSizeBytes());
            writeState(vdiUuid, snapshot.uuid(), destinationVdi, 0);
            return finish(source, snapshot.uuid(), destinationVdi, 0, false, started);
        } catch (IOException | RuntimeException e) {
            abandon(vdiUuid, snapshot.uuid(), destinationVdi != null, e);
            throw e;
        }
    }

    /** Continues an interrupted migration of {@code vdiUuid} kept by {@code keepPartial}. */
    public Report resume(String vdiUuid) throws IOException {
        long started = System.nanoTime();
        destination.checkOptions(options);
        Path state = stateFile(vdiUuid);
        if (!Files.exists(state)) {
            throw new ThinsrException(
                    ErrorCode.NOT_FOUND,
                    "no interrupted migration of " + vdiUuid + " to " + destination.describe() + " (" + state + ")");
        }
        ObjectNode saved = (ObjectNode) JSON.readTree(Files.readAllBytes(state));
        String snapshotUuid = saved.path("snapshot").asText();
        String destinationVdi = saved.path("destination_vdi").asText();
        int passes = saved.path("passes").asInt();
        VdiView source = lifecycle.vdiStat(sr, vdiUuid);
        lifecycle.vdiStat(sr, snapshotUuid); // still there?
        try {
            destination.reopen(destinationVdi, source.virtualSizeBytes());
            return finish(source, snapshotUuid, destinationVdi, passes, passes > 0, started);
        } catch (IOException | RuntimeException e) {
            abandon(vdiUuid, snapshotUuid, true, e);
            throw e;
        }
    }

    /**
     * Copies from {@code snapshotUuid} on. {@code deltaPending}: a resumed migration whose last delta
     * pass may have been cut short, so one more delta pass runs whether or not the source is in use.
     */
    private Report finish(
            VdiView source,
            String snapshotUuid,
            String destinationVdi,
            int passesDone,
            boolean deltaPending,
            long started)
            throws IOException {
        String vdiUuid = source.uuid();
        AllocationMap map = lifecycle.vdiMap(sr, snapshotUuid);
        long sent = 0;
        long zeroed = 0;
        long skipped = 0;
        int passes = passesDone;
        String current = snapshotUuid;
        if (passes == 0) {
            SparseCopier.Result full = copyPass(vdiUuid, current, CopyPlan.full(map), 1, false);
            sent += full.sentBytes();
            zeroed += full.zeroedBytes();
            skipped += full.skippedBytes();
            passes = 1;
            writeState(vdiUuid, current, destinationVdi, passes);
        }
        boolean forceDelta = deltaPending;
        while (forceDelta
                || (passes <= options.maxDeltaPasses()
                        && lifecycle.vdiStat(sr, vdiUuid).attachment() != null)) {
            forceDelta = false;
            VdiView next = lifecycle.vdiSnapshot(sr, vdiUuid);
            ExtentSet delta;
            try {
                delta = lifecycle.vdiDelta(sr, next.uuid(), current);
                AllocationMap nextMap = lifecycle.vdiMap(sr, next.uuid());
                SparseCopier.Result result =
                        copyPass(vdiUuid, next.uuid(), CopyPlan.delta(nextMap, Optional.of(delta)), passes + 1, true);
                sent += result.sentBytes();
                zeroed += result.zeroedBytes();
                map = nextMap;
            } catch (IOException | RuntimeException e) {
                destroyQuietly(next.uuid(), e);
                throw e;
            }
            destroyQuietly(current, null);
            current = next.uuid();
            passes++;
            writeState(vdiUuid, current, destinationVdi, passes);
            if (delta.totalLength() < options.deltaThresholdBytes()) {
                break;
            }
        }
        boolean verified = false;
        if (options.verify()) {
            verify(current, map);
            verified = true;
        }
        String contentId = UUID.randomUUID().toString();
        lifecycle.vdiSet(
                sr, vdiUuid, Optional.empty(), Optional.empty(), Map.of(Lifecycle.KEY_CONTENT_ID, contentId), Set.of());
        destination.setContentId(contentId);
        destroyQuietly(current, null);
        Files.deleteIfExists(stateFile(vdiUuid));
        Files.deleteIfExists(journalFile(vdiUuid));
        return new Report(
                destinationVdi,
                map.virtualSize(),
                map.nonZeroExtents().totalLength(),
                sent,
                zeroed,
                skipped,
                passes,
                verified,
                contentId,
                (System.nanoTime() - started) / 1e9);
    }

    /** One pass; {@code fresh}: a new snapshot, so a journal left by an earlier attempt is stale. */
    private SparseCopier.Result copyPass(String vdiUuid, String readUuid, CopyPlan plan, int pass, boolean fresh)
            throws IOException {
        listener.pass(pass, plan.data().totalLength(), plan.zeros().totalLength());
        if (fresh) {
            Files.deleteIfExists(journalFile(vdiUuid));
        }
        lifecycle.vdiAttach(sr, readUuid, true);
        // the snapshot's files read in place when its backend can (file SRs: the qcow2 chain at the
        // offsets qemu-img map gives), else through its attachment; attached either way, so that
        // nothing changes or merges its chain meanwhile
        Optional<BlockSource> direct = Optional.empty();
        try (CopyJournal journal = CopyJournal.open(journalFile(vdiUuid), readUuid + " -> " + destination.key())) {
            direct = lifecycle.vdiOpenDirect(sr, readUuid);
            Optional<BlockSource> shared = direct;
            SparseCopier.Result result = destination.copy(
                    plan,
                    () -> shared.isPresent()
                            ? Unclosed.source(shared.get())
                            : Attachments.openSource(lifecycle.vdiAttach(sr, readUuid, true)),
                    options.copy(),
                    Optional.of(journal),
                    (sentBytes, zeroedBytes, totalData, totalZeros) ->
                            listener.progress(pass, sentBytes, zeroedBytes, totalData, totalZeros),
                    cancelled);
            journal.delete();
            return result;
        } finally {
            try {
                if (direct.isPresent()) {
                    direct.get().close();
                }
            } finally {
                lifecycle.vdiDetach(sr, readUuid);
            }
        }
    }

    private void verify(String snapshotUuid, AllocationMap map) throws IOException {
        int blockSize = options.verifyBlockBytes();
        List<String> mine;
        try (BlockSource source = Attachments.openSource(lifecycle.vdiAttach(sr, snapshotUuid, true))) {
            mine = List.of(BlockChecksums.compute(source, map, blockSize, 0, map.virtualSize()));
        } finally {
            lifecycle.vdiDetach(sr, snapshotUuid);
        }
        List<String> theirs = destination.checksums(blockSize);
        Optional<Verification.Mismatch> mismatch = Verification.firstMismatch(mine, theirs, blockSize);
        if (mismatch.isPresent()) {
            throw new ThinsrException(
                    ErrorCode.CORRUPT_IMAGE,
                    "verification failed: " + mismatch.get() + " (" + destination.describe() + ")");
        }
    }

    private void writeState(String vdiUuid, String snapshotUuid, String destinationVdi, int passes) throws IOException {
        Map<String, Object> state = new HashMap<>();
        state.put("source", vdiUuid);
        state.put("snapshot", snapshotUuid);
        state.put("destination", destination.describe());
        state.put("destination_vdi", destinationVdi);
        state.put("passes", passes);
        Path file = stateFile(vdiUuid);
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(temporary, JSON.writeValueAsBytes(state));
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The outcome of a {@link Destination#prepare} run aside. */
    private static String prepared(FutureTask<String> preparing) throws IOException {
        try {
            return preparing.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while the destination was being created");
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case IOException io -> throw io;
                case RuntimeException runtime -> throw runtime;
                case Error error -> throw error;
                default -> throw new IOException(e.getCause());
            }
        }
    }

    /** After the snapshot failed: the destination made meanwhile, if any, is removed. */
    private void discardPrepared(FutureTask<String> preparing, Exception failure) {
        try {
            prepared(preparing);
            destination.discard();
        } catch (IOException | RuntimeException cleanup) {
            failure.addSuppressed(cleanup);
        }
    }

    /** After a failure: keep everything for --resume, or remove what this migration made. */
    private void abandon(String vdiUuid, String snapshotUuid, boolean destinationMade, Exception failure) {
        if (options.keepPartial()) {
            return;
        }
        destroyQuietly(snapshotUuid, failure);
        try {
            if (destinationMade) {
                destination.discard();
            }
            Files.deleteIfExists(stateFile(vdiUuid));
            Files.deleteIfExists(journalFile(vdiUuid));
        } catch (IOException | RuntimeException cleanup) {
            failure.addSuppressed(cleanup);
        }
    }

    private void destroyQuietly(String vdiUuid, Exception failure) {
        try {
            lifecycle.vdiDetach(sr, vdiUuid);
            lifecycle.vdiDestroy(sr, vdiUuid);
        } catch (RuntimeException cleanup) {
            if (failure != null) {
                failure.addSuppressed(cleanup);
            } else {
                throw cleanup;
            }
        }
    }
}
