package org.thinsr.allocmap;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A strict streaming scanner over bytes for the small XML dialect thin-provisioning-tools print
 * ({@code thin_dump}, {@code thin_delta}): a state machine that hands out one tag at a time with
 * its attributes as byte ranges of its buffer, so a mapping costs no allocation.
 *
 * <pre>
 * document  := BOM? xmldecl? misc* element misc*
 * xmldecl   := '&lt;?xml' version (encoding UTF-8|US-ASCII)? standalone? '?&gt;'   (only first)
 * misc      := whitespace | '&lt;!--' ... '--&gt;'
 * element   := '&lt;' name (ws attr)* ws? ('/&gt;' | '&gt;' (misc | element)* '&lt;/' name ws? '&gt;')
 * attr      := name ws? '=' ws? ('"' value '"' | "'" value "'")     (value without '&lt;')
 * </pre>
 *
 * <p>Everything else is an {@link InvalidXmlException} naming the line: a DOCTYPE (so no DTD, no
 * entity declaration and no external entity can ever be read: nothing outside the input is
 * touched), CDATA, processing instructions, non-whitespace text, entity references other than the
 * five predefined ones and character references, a mismatched end tag, a second root element,
 * trailing content, truncated input. Bounds: a tag must fit the 64 KiB buffer, at most {@value
 * #MAX_ATTRIBUTES} attributes, nesting depth at most {@value #MAX_DEPTH}. Not thread-safe; does not
 * close the stream.
 */
final class XmlScanner {
    enum Token {
        /** A start tag; {@link #isEmptyElement()} says whether it closed itself ({@code <a/>}). */
        START,
        /** An end tag matching the innermost open start tag. */
        END,
        /** The end of the input after a complete root element. */
        EOF
    }

    static final int BUFFER_SIZE = 1 << 16;
    static final int MAX_ATTRIBUTES = 16;
    static final int MAX_DEPTH = 8;

    private static final Pattern XML_DECLARATION = Pattern.compile("<\\?xml\\s+version\\s*=\\s*([\"'])1\\.[0-9]+\\1"
            + "(\\s+encoding\\s*=\\s*([\"'])(?i:utf-8|us-ascii)\\3)?"
            + "(\\s+standalone\\s*=\\s*([\"'])(yes|no)\\5)?\\s*\\?>");

    private final InputStream in;
    private final String source;
    private final byte[] buf;
    private int pos;
    private int limit;
    private boolean endOfInput;
    private long line = 1;
    private long tokenLine = 1;
    private boolean atDocumentStart = true;

    private int nameStart;
    private int nameEnd;
    private boolean empty;
    private int attributeCount;
    private final int[] attributeNameStart = new int[MAX_ATTRIBUTES];
    private final int[] attributeNameEnd = new int[MAX_ATTRIBUTES];
    private final int[] attributeValueStart = new int[MAX_ATTRIBUTES];
    private final int[] attributeValueEnd = new int[MAX_ATTRIBUTES];

    private final byte[][] openElements = new byte[MAX_DEPTH][];
    private int depth;
    private boolean rootSeen;

    /**
     * @param in the XML, read forward only and not closed
     * @param source what to call the input in messages ({@code "thin_dump"}, a file name)
     */
    XmlScanner(InputStream in, String source) {
        this.in = Objects.requireNonNull(in, "in");
        this.source = Objects.requireNonNull(source, "source");
        this.buf = new byte[BUFFER_SIZE];
    }

    /** Advances to the next tag. */
    Token next() throws IOException {
        while (true) {
            if (!skipWhitespace()) {
                if (depth > 0) {
                    throw error(
                            "truncated input",
                            "end of input inside <" + ascii(openElements[depth - 1]) + ">",
                            "</" + ascii(openElements[depth - 1]) + ">");
                }
                if (!rootSeen) {
                    throw error("truncated input", "end of input", "a root element");
                }
                return Token.EOF;
            }
            tokenLine = line;
            if (!ensure(2)) {
                throw error("truncated input", "end of input inside a tag", "a complete tag");
            }
            byte second = buf[pos + 1];
            if (second == '?') {
                readXmlDeclaration();
                continue;
            }
            atDocumentStart = false;
            if (second == '!') {
                readMarkupDeclaration();
                continue;
            }
            if (second == '/') {
                while (!parseEndTag()) {
                    moreForTag();
                }
                return Token.END;
            }
            if (depth == 0 && rootSeen) {
                throw error("trailing content", "a second element after the root element", "end of input");
            }
            while (!parseStartTag()) {
                moreForTag();
            }
            rootSeen = true;
            if (!empty) {
                if (depth == MAX_DEPTH) {
                    throw error("element nesting", "depth " + (depth + 1), "at most " + MAX_DEPTH);
                }
                openElements[depth++] = Arrays.copyOfRange(buf, nameStart, nameEnd);
            }
            return Token.START;
        }
    }

    /** Line (1-based) of the current tag. */
    long line() {
        return tokenLine;
    }

    String source() {
        return source;
    }

    boolean isEmptyElement() {
        return empty;
    }

    boolean nameIs(byte[] name) {
        return rangeEquals(nameStart, nameEnd, name);
    }

    /** The current tag's name (ASCII). */
    String name() {
        return new String(buf, nameStart, nameEnd - nameStart, StandardCharsets.US_ASCII);
    }

    int attributeCount() {
        return attributeCount;
    }

    boolean attributeNameIs(int index, byte[] name) {
        return rangeEquals(attributeNameStart[index], attributeNameEnd[index], name);
    }

    String attributeName(int index) {
        return new String(
                buf,
                attributeNameStart[index],
                attributeNameEnd[index] - attributeNameStart[index],
                StandardCharsets.US_ASCII);
    }

    /**
     * The attribute as a non-negative decimal integer no greater than {@code max}: digits only (no
     * sign, no blanks, no entity), at most 19 of them.
     */
    long attributeLong(int index, long max) throws InvalidXmlException {
        int start = attributeValueStart[index];
        int end = attributeValueEnd[index];
        if (start == end || end - start > 19) {
            throw badNumber(index, max);
        }
        long value = 0;
        for (int i = start; i < end; i++) {
            int digit = buf[i] - '0';
            if (digit < 0 || digit > 9) {
                throw badNumber(index, max);
            }
            if (value > (Long.MAX_VALUE - digit) / 10) {
                throw badNumber(index, max);
            }
            value = value * 10 + digit;
        }
        if (value > max) {
            throw badNumber(index, max);
        }
        return value;
    }

    private InvalidXmlException badNumber(int index, long max) {
        return error(
                "attribute " + attributeName(index) + " of <" + name() + ">",
                quote(rawAttribute(index)),
                "a decimal integer in [0, " + max + "]");
    }

    /** The attribute's text with the predefined entities and character references resolved. */
    String attributeString(int index) throws InvalidXmlException {
        String raw;
        try {
            raw = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(
                            buf, attributeValueStart[index], attributeValueEnd[index] - attributeValueStart[index]))
                    .toString();
        } catch (CharacterCodingException e) {
            throw error("attribute " + attributeName(index) + " of <" + name() + ">", "invalid UTF-8", "UTF-8 text");
        }
        if (raw.indexOf('&') < 0) {
            return raw;
        }
        StringBuilder text = new StringBuilder(raw.length());
        int i = 0;
        while (i < raw.length()) {
            char c = raw.charAt(i);
            if (c != '&') {
                text.append(c);
                i++;
                continue;
            }
            int semicolon = raw.indexOf(';', i);
            String reference = semicolon < 0 ? raw.substring(i) : raw.substring(i, semicolon + 1);
            if (semicolon < 0 || semicolon - i > 10) {
                throw badReference(index, reference);
            }
            String body = raw.substring(i + 1, semicolon);
            switch (body) {
                case "lt" -> text.append('<');
                case "gt" -> text.append('>');
                case "amp" -> text.append('&');
                case "quot" -> text.append('"');
                case "apos" -> text.append('\'');
                default -> text.appendCodePoint(characterReference(index, reference, body));
            }
            i = semicolon + 1;
        }
        return text.toString();
    }

    private int characterReference(int index, String reference, String body) throws InvalidXmlException {
        try {
            int codePoint;
            if (body.startsWith("#x")) {
                codePoint = Integer.parseInt(body.substring(2), 16);
            } else if (body.startsWith("#")) {
                codePoint = Integer.parseInt(body.substring(1), 10);
            } else {
                throw badReference(index, reference);
            }
            if ((codePoint < 0x20 && codePoint != '\t' && codePoint != '\n' && codePoint != '\r')
                    || codePoint > Character.MAX_CODE_POINT
                    || (codePoint >= 0xD800 && codePoint <= 0xDFFF)) {
                throw badReference(index, reference);
            }
            return codePoint;
        } catch (NumberFormatException e) {
            throw badReference(index, reference);
        }
    }

    private InvalidXmlException badReference(int index, String reference) {
        return error(
                "attribute " + attributeName(index) + " of <" + name() + ">: entity reference",
                quote(reference),
                "one of &lt; &gt; &amp; &quot; &apos; or a character reference (no DTD, so no other entity)");
    }

    private String rawAttribute(int index) {
        return new String(
                buf,
                attributeValueStart[index],
                attributeValueEnd[index] - attributeValueStart[index],
                StandardCharsets.UTF_8);
    }

    /** An error at the current tag: {@code "<source> line <n>: <what>: actual <a>, expected <e>"}. */
    InvalidXmlException error(String what, Object actual, Object expected) {
        return InvalidXmlException.of(source + " line " + tokenLine, what, actual, expected);
    }

    static String quote(String text) {
        StringBuilder quoted = new StringBuilder("\"");
        int shown = Math.min(text.length(), 64);
        for (int i = 0; i < shown; i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                quoted.append(String.format("\\x%02x", (int) c));
            } else {
                quoted.append(c);
            }
        }
        if (shown < text.length()) {
            quoted.append("...");
        }
        return quoted.append('"').toString();
    }

    // ---- scanning --------------------------------------------------------------------------

    /** Skips whitespace up to the next {@code '<'}; false at the end of the input. */
    private boolean skipWhitespace() throws IOException {
        while (true) {
            if (pos == limit) {
                if (!fill()) {
                    return false;
                }
                continue;
            }
            if (atDocumentStart && pos == 0 && limit - pos >= 1 && buf[pos] == (byte) 0xEF) {
                if (!ensure(3)) {
                    throw error("byte order mark", "truncated", "EF BB BF");
                }
                if (buf[pos + 1] != (byte) 0xBB || buf[pos + 2] != (byte) 0xBF) {
                    throw error("start of document", "byte 0xEF", "'<' or a UTF-8 byte order mark");
                }
                pos += 3;
                continue;
            }
            byte b = buf[pos];
            if (b == '<') {
                return true;
            }
            if (b == '\n') {
                line++;
            } else if (b != ' ' && b != '\t' && b != '\r') {
                tokenLine = line;
                if (depth == 0 && rootSeen) {
                    throw error("trailing content after the root element", describeByte(b), "end of input");
                }
                throw error("text content", describeByte(b), "only whitespace between tags");
            }
            pos++;
            atDocumentStart = false;
        }
    }

    private static String describeByte(byte b) {
        int value = b & 0xff;
        return value >= 0x21 && value < 0x7f ? "'" + (char) value + "'" : String.format("byte 0x%02x", value);
    }

    /** Makes at least {@code count} bytes available at {@code pos}; false when the input ends first. */
    private boolean ensure(int count) throws IOException {
        while (limit - pos < count) {
            if (pos > 0) {
                compact();
            }
            if (!fill()) {
                return false;
            }
        }
        return true;
    }

    private void compact() {
        System.arraycopy(buf, pos, buf, 0, limit - pos);
        limit -= pos;
        pos = 0;
    }

    private boolean fill() throws IOException {
        if (endOfInput) {
            return false;
        }
        if (limit == buf.length) {
            if (pos == 0) {
                return false;
            }
            compact();
        }
        int read = in.read(buf, limit, buf.length - limit);
        if (read < 0) {
            endOfInput = true;
            return false;
        }
        limit += read;
        return true;
    }

    /** More bytes for a tag that does not fit what is buffered; throws at the end or when too long. */
    private void moreForTag() throws IOException {
        if (pos > 0) {
            compact();
        }
        if (limit == buf.length) {
            throw error(
                    "tag length", "more than " + buf.length + " bytes", "a tag of at most " + buf.length + " bytes");
        }
        if (!fill()) {
            throw error("truncated input", "end of input inside a tag", "a complete tag");
        }
    }

    private void readXmlDeclaration() throws IOException {
        if (!atDocumentStart) {
            throw error("processing instruction", "<?", "no processing instruction (only an XML declaration, first)");
        }
        atDocumentStart = false;
        int end;
        while ((end = indexOf((byte) '?', (byte) '>', pos + 2)) < 0) {
            moreForTag();
        }
        String declaration = new String(buf, pos, end + 2 - pos, StandardCharsets.ISO_8859_1);
        if (!XML_DECLARATION.matcher(declaration).matches()) {
            throw error(
                    "XML declaration",
                    quote(declaration),
                    "<?xml version=\"1.x\" [encoding=\"UTF-8\"] [standalone=...]?> (no processing instruction)");
        }
        for (int i = pos; i < end; i++) {
            if (buf[i] == '\n') {
                line++;
            }
        }
        pos = end + 2;
    }

    private int indexOf(byte first, byte second, int from) {
        for (int i = from; i + 1 < limit; i++) {
            if (buf[i] == first && buf[i + 1] == second) {
                return i;
            }
        }
        return -1;
    }

    /** {@code <!--} comments are skipped; a DOCTYPE, CDATA and anything else after {@code <!} throw. */
    private void readMarkupDeclaration() throws IOException {
        if (!ensure(4)) {
            throw error("truncated input", "end of input after <!", "a comment");
        }
        if (buf[pos + 2] != '-' || buf[pos + 3] != '-') {
            ensure(9);
            String start = new String(buf, pos, Math.min(9, limit - pos), StandardCharsets.ISO_8859_1);
            if (start.startsWith("<!DOCTYPE")) {
                throw error("DOCTYPE declaration", "<!DOCTYPE", "no DOCTYPE (DTDs and external entities are refused)");
            }
            throw error("markup declaration", quote(start), "an element or a comment (no CDATA, no DTD)");
        }
        pos += 4;
        while (true) {
            if (limit - pos < 3) {
                if (!ensure(3)) {
                    throw error("truncated input", "end of input inside a comment", "-->");
                }
            }
            byte b = buf[pos];
            if (b == '-' && buf[pos + 1] == '-' && buf[pos + 2] == '>') {
                pos += 3;
                return;
            }
            if (b == '\n') {
                line++;
            }
            pos++;
        }
    }

    private static boolean isNameStart(byte b) {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_' || b == ':';
    }

    private static boolean isNameChar(byte b) {
        return isNameStart(b) || (b >= '0' && b <= '9') || b == '-' || b == '.';
    }

    private static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\n' || b == '\t' || b == '\r';
    }

    /** Index after the name starting at {@code i}; -1 when the buffer ends first. */
    private int scanName(int i) {
        while (i < limit && isNameChar(buf[i])) {
            i++;
        }
        return i == limit ? -1 : i;
    }

    /** Parses the start tag at {@code pos}; false when it does not end within the buffer. */
    private boolean parseStartTag() throws InvalidXmlException {
        int i = pos + 1;
        if (!isNameStart(buf[i])) {
            throw error("start tag", "'<' followed by " + describeByte(buf[i]), "an element name");
        }
        int start = i;
        i = scanName(i);
        if (i < 0) {
            return false;
        }
        nameStart = start;
        nameEnd = i;
        attributeCount = 0;
        long newLines = 0;
        while (true) {
            int whitespaceStart = i;
            while (i < limit && isWhitespace(buf[i])) {
                if (buf[i] == '\n') {
                    newLines++;
                }
                i++;
            }
            if (i == limit) {
                return false;
            }
            byte b = buf[i];
            if (b == '>') {
                empty = false;
                pos = i + 1;
                break;
            }
            if (b == '/') {
                if (i + 1 == limit) {
                    return false;
                }
                if (buf[i + 1] != '>') {
                    throw error("start tag <" + name() + ">", describeByte(buf[i + 1]) + " after '/'", "'>'");
                }
                empty = true;
                pos = i + 2;
                break;
            }
            if (!isNameStart(b)) {
                throw error("start tag <" + name() + ">", describeByte(b), "an attribute name, '>' or '/>'");
            }
            if (i == whitespaceStart) {
                throw error("start tag <" + name() + ">", describeByte(b), "whitespace before an attribute");
            }
            int attributeStart = i;
            i = scanName(i);
            if (i < 0) {
                return false;
            }
            int attributeEnd = i;
            while (i < limit && isWhitespace(buf[i])) {
                if (buf[i] == '\n') {
                    newLines++;
                }
                i++;
            }
            if (i == limit) {
                return false;
            }
            if (buf[i] != '=') {
                throw error(
                        "attribute "
                                + new String(
                                        buf, attributeStart, attributeEnd - attributeStart, StandardCharsets.US_ASCII)
                                + " of <" + name() + ">",
                        describeByte(buf[i]),
                        "'='");
            }
            i++;
            while (i < limit && isWhitespace(buf[i])) {
                if (buf[i] == '\n') {
                    newLines++;
                }
                i++;
            }
            if (i == limit) {
                return false;
            }
            byte quoteByte = buf[i];
            if (quoteByte != '"' && quoteByte != '\'') {
                throw error("attribute value in <" + name() + ">", describeByte(quoteByte), "a quoted value");
            }
            int valueStart = ++i;
            while (i < limit && buf[i] != quoteByte) {
                byte v = buf[i];
                if (v == '<') {
                    throw error("attribute value in <" + name() + ">", "'<'", "no '<' inside a value");
                }
                if (v == '\n') {
                    newLines++;
                }
                i++;
            }
            if (i == limit) {
                return false;
            }
            if (attributeCount == MAX_ATTRIBUTES) {
                throw error(
                        "attributes of <" + name() + ">", "more than " + MAX_ATTRIBUTES, "at most " + MAX_ATTRIBUTES);
            }
            attributeNameStart[attributeCount] = attributeStart;
            attributeNameEnd[attributeCount] = attributeEnd;
            attributeValueStart[attributeCount] = valueStart;
            attributeValueEnd[attributeCount] = i;
            attributeCount++;
            i++;
        }
        line += newLines;
        return true;
    }

    /** Parses the end tag at {@code pos}; false when it does not end within the buffer. */
    private boolean parseEndTag() throws InvalidXmlException {
        int i = pos + 2;
        if (i == limit) {
            return false;
        }
        if (!isNameStart(buf[i])) {
            throw error("end tag", "'</' followed by " + describeByte(buf[i]), "an element name");
        }
        int start = i;
        i = scanName(i);
        if (i < 0) {
            return false;
        }
        int end = i;
        long newLines = 0;
        while (i < limit && isWhitespace(buf[i])) {
            if (buf[i] == '\n') {
                newLines++;
            }
            i++;
        }
        if (i == limit) {
            return false;
        }
        nameStart = start;
        nameEnd = end;
        attributeCount = 0;
        empty = false;
        if (buf[i] != '>') {
            throw error("end tag </" + name() + ">", describeByte(buf[i]), "'>'");
        }
        if (depth == 0) {
            throw error("end tag", "</" + name() + "> without a start tag", "end of input");
        }
        byte[] open = openElements[depth - 1];
        if (!rangeEquals(start, end, open)) {
            throw error("end tag", "</" + name() + ">", "</" + ascii(open) + ">");
        }
        depth--;
        openElements[depth] = null;
        line += newLines;
        pos = i + 1;
        return true;
    }

    private boolean rangeEquals(int start, int end, byte[] name) {
        return Arrays.equals(buf, start, end, name, 0, name.length);
    }

    private static String ascii(byte[] bytes) {
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    static byte[] bytes(String name) {
        return name.getBytes(StandardCharsets.US_ASCII);
    }
}
