package org.thinsr.allocmap;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Parses {@code qemu-img map --output=json} into an {@link AllocationMap}, with a small strict
 * streaming JSON reader for exactly that shape (the module depends on the JDK only).
 *
 * <pre>
 * [{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680},
 * { "start": 65536, "length": 196608, "depth": 1, "present": false, "zero": true, "data": false}]
 * </pre>
 *
 * <p>Per entry: {@code start}, {@code length}, {@code depth} (non-negative integers), {@code
 * present}, {@code zero}, {@code data} (booleans) are required; {@code offset} (integer) and {@code
 * compressed} (boolean) are optional; any other key, a repeated key, a string escape, a fraction, a
 * sign, a number past {@code 2^63 - 1} or a depth past {@value #MAX_DEPTH} is an error. Entries
 * must be contiguous from 0 with positive lengths; the map's virtual size is the last entry's end.
 *
 * <p>State: {@code data && !zero} is DATA, {@code data && zero} ZERO, {@code !data && zero} HOLE
 * (unallocated, or a zero cluster: present or not). {@code !data && !zero} is DATA: qemu does not
 * know what those bytes read as, so a copy must read them.
 * Provenance: depth 0 is LOCAL, depth n is {@code origin(n)} (a hole's depth is where qemu stopped
 * looking). Errors are {@link CorruptInputException}s naming the byte offset. Stateless and
 * thread-safe; does not close the stream.
 */
public final class QemuImgMapParser {
    /** The deepest backing chain accepted. */
    public static final int MAX_DEPTH = 1 << 16;

    /** The most entries accepted (qemu prints one per allocation change). */
    public static final int MAX_ENTRIES = 1 << 27;

    private QemuImgMapParser() {}

    /** Parses a whole {@code qemu-img map --output=json} document. */
    public static AllocationMap parse(InputStream in, String source) throws IOException {
        return new Reader(in, source).document();
    }

    /** Parses and checks that the map covers exactly {@code virtualSize} bytes. */
    public static AllocationMap parse(InputStream in, String source, long virtualSize) throws IOException {
        AllocationMap map = parse(in, source);
        if (map.virtualSize() != virtualSize) {
            throw CorruptInputException.of(source, "bytes covered by the map", map.virtualSize(), virtualSize);
        }
        return map;
    }

    /**
     * Parses a whole document into where its DATA entries' bytes lie in the image files: each one's
     * depth and, when qemu printed one, its {@code offset} in the file at that depth. Checks that the
     * map covers exactly {@code virtualSize} bytes.
     */
    public static HostExtents hostExtents(InputStream in, String source, long virtualSize) throws IOException {
        Reader reader = new Reader(in, source);
        AllocationMap map = reader.document();
        if (map.virtualSize() != virtualSize) {
            throw CorruptInputException.of(source, "bytes covered by the map", map.virtualSize(), virtualSize);
        }
        return reader.hostExtents();
    }

    private static final class Reader {
        private static final int START = 0;
        private static final int LENGTH = 1;
        private static final int DEPTH = 2;
        private static final int PRESENT = 3;
        private static final int ZERO = 4;
        private static final int DATA = 5;
        private static final int OFFSET = 6;
        private static final int COMPRESSED = 7;
        private static final String[] KEYS = {
            "start", "length", "depth", "present", "zero", "data", "offset", "compressed"
        };

        private static final byte[][] KEY_BYTES = {
            XmlScanner.bytes("start"),
            XmlScanner.bytes("length"),
            XmlScanner.bytes("depth"),
            XmlScanner.bytes("present"),
            XmlScanner.bytes("zero"),
            XmlScanner.bytes("data"),
            XmlScanner.bytes("offset"),
            XmlScanner.bytes("compressed")
        };

        private final InputStream in;
        private final String source;
        private final byte[] buf = new byte[1 << 14];
        private int pos;
        private int limit;
        private long consumed;
        private final byte[] key = new byte[16];

        private long[] ends = new long[16];
        private byte[] states = new byte[16];
        private int[] depths = new int[16];
        private long[] offsets = new long[16];
        private int count;

        Reader(InputStream in, String source) {
            this.in = Objects.requireNonNull(in, "in");
            this.source = Objects.requireNonNull(source, "source");
        }

        AllocationMap document() throws IOException {
            expect('[');
            int c = skipWhitespaceAndPeek();
            if (c == ']') {
                read();
            } else {
                while (true) {
                    entry();
                    c = skipWhitespaceAndRead();
                    if (c == ']') {
                        break;
                    }
                    if (c != ',') {
                        throw error("after an entry", describe(c), "',' or ']'");
                    }
                }
            }
            int trailing = skipWhitespaceAndPeek();
            if (trailing >= 0) {
                throw error("after the array", describe(trailing), "end of input");
            }
            long size = count == 0 ? 0 : ends[count - 1];
            AllocationMap.Builder builder = AllocationMap.builder(size);
            for (int i = 0; i < count; i++) {
                builder.add(builder.position(), ends[i], State.ofCode(states[i]), Provenance.ofDepth(depths[i]));
            }
            return builder.build();
        }

        HostExtents hostExtents() {
            HostExtents.Builder builder = new HostExtents.Builder();
            for (int i = 0; i < count; i++) {
                if (states[i] == State.DATA.code()) {
                    builder.add(i == 0 ? 0 : ends[i - 1], ends[i], depths[i], offsets[i]);
                }
            }
            return builder.build();
        }

        private void entry() throws IOException {
            long entryOffset = consumed + pos;
            expect('{');
            long[] numbers = {-1, -1, -1, -1, -1, -1, -1, -1};
            while (true) {
                expect('"');
                int field = key();
                expect(':');
                if (numbers[field] != -1) {
                    throw error("key \"" + KEYS[field] + "\"", "given twice", "once per entry");
                }
                numbers[field] = switch (field) {
                    case START, LENGTH, OFFSET -> number(KEYS[field], Long.MAX_VALUE);
                    case DEPTH -> number(KEYS[field], MAX_DEPTH);
                    case PRESENT, ZERO, DATA, COMPRESSED -> bool(KEYS[field]);
                    default -> throw new IllegalStateException("key index " + field);
                };
                int c = skipWhitespaceAndRead();
                if (c == '}') {
                    break;
                }
                if (c != ',') {
                    throw error("in an entry", describe(c), "',' or '}'");
                }
            }
            for (int field : new int[] {START, LENGTH, DEPTH, PRESENT, ZERO, DATA}) {
                if (numbers[field] == -1) {
                    throw CorruptInputException.of(
                            source + " entry at byte " + entryOffset,
                            "key \"" + KEYS[field] + "\"",
                            "missing",
                            "present");
                }
            }
            long start = numbers[START];
            long length = numbers[LENGTH];
            long previousEnd = count == 0 ? 0 : ends[count - 1];
            if (start != previousEnd) {
                throw CorruptInputException.of(
                        source + " entry at byte " + entryOffset,
                        "start",
                        start,
                        previousEnd + " (entries are contiguous)");
            }
            if (length < 1 || start > Long.MAX_VALUE - length) {
                throw CorruptInputException.of(
                        source + " entry at byte " + entryOffset,
                        "length",
                        length,
                        "a positive length whose end fits a signed 64-bit number");
            }
            if (numbers[OFFSET] > Long.MAX_VALUE - length) {
                throw CorruptInputException.of(
                        source + " entry at byte " + entryOffset,
                        "offset",
                        numbers[OFFSET],
                        "an offset whose run of " + length + " bytes ends below 2^63");
            }
            boolean data = numbers[DATA] == 1;
            boolean zero = numbers[ZERO] == 1;
            State state;
            if (data) {
                state = zero ? State.ZERO : State.DATA;
            } else {
                state = zero ? State.HOLE : State.DATA;
            }
            if (count == MAX_ENTRIES) {
                throw CorruptInputException.of(source, "entries", "more than " + MAX_ENTRIES, "at most " + MAX_ENTRIES);
            }
            if (count == ends.length) {
                int capacity = count + (count >> 1);
                ends = Arrays.copyOf(ends, capacity);
                states = Arrays.copyOf(states, capacity);
                depths = Arrays.copyOf(depths, capacity);
                offsets = Arrays.copyOf(offsets, capacity);
            }
            ends[count] = start + length;
            states[count] = state.code();
            depths[count] = (int) numbers[DEPTH];
            offsets[count] = numbers[OFFSET];
            count++;
        }

        /** Reads a key after its opening quote; returns its index in {@link #KEYS}. */
        private int key() throws IOException {
            int length = 0;
            while (true) {
                int c = read();
                if (c == '"') {
                    break;
                }
                if (c < 0x20 || c == '\\' || c > 0x7e || length == key.length) {
                    throw error(
                            "key", c < 0 ? "end of input" : "byte " + describe(c) + " in a key", "a short plain key");
                }
                key[length++] = (byte) c;
            }
            for (int field = 0; field < KEYS.length; field++) {
                if (Arrays.equals(key, 0, length, KEY_BYTES[field], 0, KEY_BYTES[field].length)) {
                    return field;
                }
            }
            throw error(
                    "key",
                    "\"" + new String(key, 0, length, StandardCharsets.US_ASCII) + "\"",
                    "one of " + String.join(", ", KEYS));
        }

        private long number(String name, long max) throws IOException {
            int c = skipWhitespaceAndRead();
            if (c < '0' || c > '9') {
                throw error("value of \"" + name + "\"", describe(c), "a non-negative integer");
            }
            long value = (long) c - '0';
            if (value == 0 && isDigit(peek())) {
                throw error("value of \"" + name + "\"", "a leading zero", "a JSON integer");
            }
            while (isDigit(peek())) {
                int digit = read() - '0';
                if (value > (max - digit) / 10) {
                    throw error("value of \"" + name + "\"", "a number above " + max, "at most " + max);
                }
                value = value * 10 + digit;
            }
            int next = peek();
            if (next == '.' || next == 'e' || next == 'E') {
                throw error("value of \"" + name + "\"", describe(next), "an integer");
            }
            return value;
        }

        private static boolean isDigit(int c) {
            return c >= '0' && c <= '9';
        }

        private long bool(String name) throws IOException {
            int c = skipWhitespaceAndRead();
            if (c == 't' && read() == 'r' && read() == 'u' && read() == 'e') {
                return 1;
            }
            if (c == 'f' && read() == 'a' && read() == 'l' && read() == 's' && read() == 'e') {
                return 0;
            }
            throw error("value of \"" + name + "\"", "not true or false", "true or false");
        }

        private void expect(char expected) throws IOException {
            int c = skipWhitespaceAndRead();
            if (c != expected) {
                throw error("syntax", describe(c), "'" + expected + "'");
            }
        }

        private int skipWhitespaceAndRead() throws IOException {
            skipWhitespaceAndPeek();
            return read();
        }

        private int skipWhitespaceAndPeek() throws IOException {
            while (true) {
                int c = peek();
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                    pos++;
                } else {
                    return c;
                }
            }
        }

        private int peek() throws IOException {
            if (pos == limit) {
                consumed += limit;
                pos = 0;
                limit = 0;
                int n = in.read(buf, 0, buf.length);
                if (n < 0) {
                    return -1;
                }
                limit = n;
            }
            return buf[pos] & 0xff;
        }

        private int read() throws IOException {
            int c = peek();
            if (c >= 0) {
                pos++;
            }
            return c;
        }

        private static String describe(int c) {
            if (c < 0) {
                return "end of input";
            }
            return c >= 0x21 && c < 0x7f ? "'" + (char) c + "'" : String.format("byte 0x%02x", c);
        }

        private CorruptInputException error(String what, String actual, String expected) {
            return CorruptInputException.of(
                    source + " byte " + (consumed + Math.max(pos - 1, 0)), what, actual, expected);
        }
    }
}
