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

    /** The built-in backends: {@code file} (FileBackend); {@code lvm-thin} once LvmThinBackend is built in. */
    static Backends standard() {
        return kind -> switch (kind) {
            case FileBackend.KIND -> new FileBackend();
            default ->
                throw new ThinsrException(
                        ErrorCode.UNSUPPORTED, "unknown SR backend '" + kind + "' (built in: file)", kind);
        };
    }
}
