package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import org.thinsr.lifecycle.VdiView;

/**
 * Prints VDIs the way every {@code vdi-*} command does. One VDI as text: {@code key: value} lines.
 * A list as text: one VDI per line, {@code UUID KIND VIRTUAL-SIZE VOLUME-OR-URI NAME-LABEL}.
 */
final class VdiPrinter {
    private VdiPrinter() {}

    static void print(PrintWriter out, VdiView vdi, boolean json) {
        if (json) {
            LifecycleOptions.printJson(out, vdi);
            return;
        }
        out.println("uuid: " + vdi.uuid());
        out.println("kind: " + vdi.kind());
        out.println("name-label: " + vdi.nameLabel());
        out.println("description: " + vdi.description());
        if (vdi.volume() != null) {
            out.println("volume: " + vdi.volume());
            out.println("path: " + vdi.path());
            out.println("provisioning: " + vdi.provisioning());
        }
        if (vdi.uri() != null) {
            out.println("uri: " + vdi.uri());
        }
        if (vdi.parentUri() != null) {
            out.println("parent-uri: " + vdi.parentUri());
        }
        out.println("virtual-size-bytes: " + vdi.virtualSizeBytes());
        out.println("physical-utilisation-bytes: " + vdi.physicalUtilisationBytes());
        out.println("read-only: " + vdi.readOnly());
        for (Map.Entry<String, String> key : vdi.keys().entrySet()) {
            out.println("key " + key.getKey() + ": " + key.getValue());
        }
        if (vdi.attachment() != null) {
            out.println("attached: " + vdi.attachment().target());
        }
        out.flush();
    }

    static void printList(PrintWriter out, List<VdiView> vdis, boolean json) {
        if (json) {
            LifecycleOptions.printJson(out, vdis);
            return;
        }
        for (VdiView vdi : vdis) {
            out.println(vdi.uuid() + " " + vdi.kind() + " " + vdi.virtualSizeBytes() + " "
                    + (vdi.volume() != null ? vdi.volume() : vdi.uri()) + " " + vdi.nameLabel());
        }
        out.flush();
    }
}
