package org.thinsr.lifecycle;

/**
 * Progress reporting and cancellation for long operations (preallocation). Called from the thread
 * running the operation; implementations must be cheap and must not throw.
 */
public interface Progress {
    /** Reports nothing and never cancels. */
    Progress NONE = new Progress() {
        @Override
        public void update(long doneBytes, long totalBytes) {}

        @Override
        public boolean cancelled() {
            return false;
        }
    };

    /** {@code doneBytes} of {@code totalBytes} are done; {@code 0 <= doneBytes <= totalBytes}. */
    void update(long doneBytes, long totalBytes);

    /** Whether the operation should stop, undo what it made and throw {@code CANCELLED}. */
    boolean cancelled();
}
