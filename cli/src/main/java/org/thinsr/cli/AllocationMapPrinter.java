package org.thinsr.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/**
 * Prints an {@link AllocationMap} the way every {@code thinsr map} command does.
 *
 * <p>Text: one run per line, {@code START LENGTH STATE SOURCE} in bytes, e.g. {@code 0 2097152
 * data local}. JSON: {@code {"virtual_size":N,"extents":[{"start":…,"length":…,"state":"data",
 * "source":"local"}]}}, with {@code "depth"} added for origins deeper than 1.
 */
final class AllocationMapPrinter {
    private AllocationMapPrinter() {}

    static void print(AllocationMap map, boolean json, PrintWriter out) {
        if (json) {
            printJson(map, out);
        } else {
            printText(map, out);
        }
        out.flush();
    }

    static void printText(AllocationMap map, PrintWriter out) {
        StringBuilder line = new StringBuilder(64);
        map.forEachRun((start, end, state, provenance) -> {
            line.setLength(0);
            line.append(start)
                    .append(' ')
                    .append(end - start)
                    .append(' ')
                    .append(state.label())
                    .append(' ')
                    .append(provenance.label());
            out.println(line);
        });
    }

    static void printJson(AllocationMap map, PrintWriter out) {
        try (JsonGenerator json = new JsonFactory().createGenerator(out)) {
            json.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            json.writeStartObject();
            json.writeNumberField("virtual_size", map.virtualSize());
            json.writeArrayFieldStart("extents");
            for (int i = 0; i < map.runCount(); i++) {
                writeRun(json, map.runStart(i), map.runEnd(i), map.runState(i), map.runProvenance(i));
            }
            json.writeEndArray();
            json.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.println();
    }

    private static void writeRun(JsonGenerator json, long start, long end, State state, Provenance provenance)
            throws IOException {
        json.writeStartObject();
        json.writeNumberField("start", start);
        json.writeNumberField("length", end - start);
        json.writeStringField("state", state.label());
        json.writeStringField("source", provenance.isLocal() ? "local" : "origin");
        if (provenance.depth() > 1) {
            json.writeNumberField("depth", provenance.depth());
        }
        json.writeEndObject();
    }
}
