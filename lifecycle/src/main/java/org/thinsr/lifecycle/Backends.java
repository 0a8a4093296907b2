package org.thinsr.lifecycle;

import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/** Makes the {@link StorageBackend} for a backend kind. */
@FunctionalInterface
public interface Backends {
    /**
     * The backend of {@code kind}.
     *
     * @throws ThinsrException {@code UNSUPPORTED} for an unknown kind
     */
    StorageBackend forKind(String kind);

    /** The kind name of {@link LvmThinBackend} ({@code --sr lvm:VG}). */
    String LVM_THIN = "lvm-thin";

    /** The built-in backends: {@code file} (FileBackend) and {@code lvm-thin} (LvmThinBackend). */
    static Backends standard() {
        return kind -> switch (kind) {
            case FileBackend.KIND -> new FileBackend();
            case LVM_THIN -> new LvmThinBackend();
            default ->
                throw new ThinsrException(
                        ErrorCode.UNSUPPORTED, "unknown SR backend '" + kind + "' (built in: file, lvm-thin)", kind);
        };
    }
}
