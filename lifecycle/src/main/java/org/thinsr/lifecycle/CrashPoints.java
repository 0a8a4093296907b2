package org.thinsr.lifecycle;

/**
 * Fault injection for crash-safety tests: when the system property {@code thinsr.crashPoint} or
 * the environment variable {@code THINSR_CRASH_POINT} names a point that the code reaches, the JVM
 * halts at once with status {@value #EXIT_STATUS}, as if killed (no shutdown hooks, no finally
 * blocks, nothing flushed that was not written). Never set in production.
 */
final class CrashPoints {
    static final int EXIT_STATUS = 86;

    /** Metadata slot payload written and synced, header not yet written. */
    static final String METADATA_AFTER_PAYLOAD = "metadata.after-payload";
    /** Metadata header written but not synced. */
    static final String METADATA_AFTER_HEADER = "metadata.after-header";
    /** The in-flight mark committed, backend not yet called. */
    static final String AFTER_INTENT = "after-intent";
    /** The backend finished, the result not yet committed. */
    static final String AFTER_BACKEND = "after-backend";

    private static final String ARMED = armed();
    private static final java.util.concurrent.ConcurrentHashMap<String, Integer> HITS =
            new java.util.concurrent.ConcurrentHashMap<>();

    private CrashPoints() {}

    private static String armed() {
        String property = System.getProperty("thinsr.crashPoint");
        return property != null ? property : System.getenv("THINSR_CRASH_POINT");
    }

    /** Halts the JVM when {@code operation + "." + point} is armed (see {@link #reach(String)}). */
    static void reach(String operation, String point) {
        if (ARMED != null) {
            reach(operation + "." + point);
        }
    }

    /**
     * Halts the JVM when {@code point} is armed: as {@code point} (the first time it is reached) or
     * as {@code point#N} (the N-th time).
     */
    static void reach(String point) {
        if (ARMED == null || !ARMED.startsWith(point)) {
            return;
        }
        int hit = HITS.merge(point, 1, Integer::sum);
        if (ARMED.equals(point) ? hit == 1 : ARMED.equals(point + "#" + hit)) {
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }
}
