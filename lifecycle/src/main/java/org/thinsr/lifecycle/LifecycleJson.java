package org.thinsr.lifecycle;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.UncheckedIOException;

/** The JSON form of lifecycle values ({@link VdiView}, {@link SrView}, …) as commands print them. */
public final class LifecycleJson {
    private LifecycleJson() {}

    /** {@code value} as one line of JSON, map keys sorted. */
    public static String toJson(Object value) {
        try {
            return SrMetadataStore.JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
