package org.thinsr.qmpclient;

/**
 * Receives QMP events. Called on the client's single event thread, in arrival order; a listener may
 * issue QMP commands but should not block for long, since events queue behind it.
 */
@FunctionalInterface
public interface QmpEventListener {
    void onEvent(QmpEvent event);
}
