package org.thinsr.qmpclient;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.io.InputStream;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/**
 * Streams the output of {@code qemu-img map --output=json} into an {@link AllocationMap}: a JSON
 * array of {@code {"start", "length", "depth", "present", "zero", "data", ["offset"]}} objects in
 * ascending, gap-free order.
 *
 * <p>Mapping (the same as {@link QemuAllocation#fromBaseAndDepth}): {@code present: false} is HOLE
 * (falls through the whole chain); {@code data: true} is DATA; {@code data: false, zero: true} is
 * ZERO (a zero cluster); {@code data: false, zero: false} is DATA (contents unknown, so a copy must
 * read it). Provenance is LOCAL for depth 0 and {@code origin(depth)} below.
 *
 * <p>Package-private stand-in until {@code org.thinsr.allocmap.QemuImgMapParser} is on main.
 */
final class QemuImgMapParser {
    private static final JsonFactory JSON = JsonFactory.builder()
            .disable(com.fasterxml.jackson.core.StreamReadFeature.AUTO_CLOSE_SOURCE)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(8)
                    .maxStringLength(4096)
                    .maxNumberLength(24)
                    .build())
            .build();

    private QemuImgMapParser() {}

    private record Run(long end, State state, int depth) {}

    static AllocationMap parse(InputStream in, String where) throws IOException {
        try (JsonParser parser = JSON.createParser(in)) {
            if (parser.nextToken() != JsonToken.START_ARRAY) {
                throw CorruptInputException.of(where, "first token", parser.currentToken(), "[");
            }
            java.util.List<Run> runs = new java.util.ArrayList<>();
            long position = 0;
            while (parser.nextToken() == JsonToken.START_OBJECT) {
                long start = -1;
                long length = -1;
                long depth = 0;
                Boolean present = null;
                Boolean zero = null;
                Boolean data = null;
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String field = parser.currentName();
                    JsonToken value = parser.nextToken();
                    switch (field) {
                        case "start" -> start = longValue(parser, value, where, field);
                        case "length" -> length = longValue(parser, value, where, field);
                        case "depth" -> depth = longValue(parser, value, where, field);
                        case "present" -> present = booleanValue(parser, value, where, field);
                        case "zero" -> zero = booleanValue(parser, value, where, field);
                        case "data" -> data = booleanValue(parser, value, where, field);
                        default -> parser.skipChildren();
                    }
                }
                String entry = where + " entry " + runs.size();
                if (start != position) {
                    throw CorruptInputException.of(entry, "start", start, position + " (entries are gap-free)");
                }
                if (length <= 0 || depth > Integer.MAX_VALUE) {
                    throw CorruptInputException.of(
                            entry, "length/depth", length + "/" + depth, "length > 0, depth < 2^31");
                }
                if (data == null || zero == null) {
                    throw CorruptInputException.of(entry, "fields", "data=" + data + " zero=" + zero, "both present");
                }
                State state;
                if (present != null && !present) {
                    state = State.HOLE;
                } else if (data) {
                    state = State.DATA;
                } else {
                    state = zero ? State.ZERO : State.DATA;
                }
                int provenance = state == State.HOLE ? 0 : (int) depth;
                position = Math.addExact(start, length);
                runs.add(new Run(position, state, provenance));
            }
            if (parser.currentToken() != JsonToken.END_ARRAY) {
                throw CorruptInputException.of(
                        where, "token after entry " + runs.size(), parser.currentToken(), "{ or ]");
            }
            if (parser.nextToken() != null) {
                throw CorruptInputException.of(where, "trailing content", parser.currentToken(), "end of input");
            }
            AllocationMap.Builder builder = AllocationMap.builder(position);
            for (Run run : runs) {
                builder.fillTo(run.end(), run.state(), Provenance.ofDepth(run.depth()));
            }
            return builder.build();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptInputException(where + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static long longValue(JsonParser parser, JsonToken token, String where, String field) throws IOException {
        if (token != JsonToken.VALUE_NUMBER_INT || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw CorruptInputException.of(where, "field " + field, parser.getText(), "an integer in [0, 2^63)");
        }
        long value = parser.getLongValue();
        if (value < 0) {
            throw CorruptInputException.of(where, "field " + field, value, "an integer in [0, 2^63)");
        }
        return value;
    }

    private static boolean booleanValue(JsonParser parser, JsonToken token, String where, String field)
            throws IOException {
        if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
            throw CorruptInputException.of(where, "field " + field, parser.getText(), "true or false");
        }
        return token == JsonToken.VALUE_TRUE;
    }
}
