package org.thinsr.allocmap;

import java.io.IOException;
import java.io.InputStream;

/**
 * Parses what {@code thin_delta} prints, terse or {@code --verbose}, streaming, into a {@link
 * ThinDelta}.
 *
 * <pre>
 * &lt;superblock uuid time transaction [flags] [version] data_block_size nr_data_blocks&gt;
 *   &lt;diff left right&gt;
 *     terse:   &lt;same|different|left_only|right_only begin length/&gt;
 *     verbose: &lt;same&gt;       &lt;range begin data_begin length/&gt;...                  &lt;/same&gt;
 *              &lt;different&gt;  &lt;range begin left_data_begin right_data_begin length/&gt;... &lt;/different&gt;
 *              &lt;left_only&gt;  &lt;range begin data_begin length/&gt;...                  &lt;/left_only&gt;
 *              &lt;right_only&gt; &lt;range begin data_begin length/&gt;...                  &lt;/right_only&gt;
 *   &lt;/diff&gt;
 * &lt;/superblock&gt;
 * </pre>
 *
 * <p>Runs must ascend without overlapping; every number is bounded as in {@link ThinDumpParser}.
 * Anything else throws an {@link InvalidXmlException} naming the line. The runs are kept as printed
 * (adjacent runs are not merged). Stateless and thread-safe; does not close the stream.
 */
public final class ThinDeltaParser {
    private static final byte[] SUPERBLOCK = XmlScanner.bytes("superblock");
    private static final byte[] DIFF = XmlScanner.bytes("diff");
    private static final byte[] RANGE = XmlScanner.bytes("range");
    private static final byte[] LEFT = XmlScanner.bytes("left");
    private static final byte[] RIGHT = XmlScanner.bytes("right");
    private static final byte[] BEGIN = XmlScanner.bytes("begin");
    private static final byte[] LENGTH = XmlScanner.bytes("length");
    private static final byte[] DATA_BEGIN = XmlScanner.bytes("data_begin");
    private static final byte[] LEFT_DATA_BEGIN = XmlScanner.bytes("left_data_begin");
    private static final byte[] RIGHT_DATA_BEGIN = XmlScanner.bytes("right_data_begin");
    private static final byte[][] KIND_NAMES = {
        XmlScanner.bytes("same"),
        XmlScanner.bytes("different"),
        XmlScanner.bytes("left_only"),
        XmlScanner.bytes("right_only")
    };
    private static final ThinDelta.Kind[] KINDS = ThinDelta.Kind.values();

    private ThinDeltaParser() {}

    /** Parses one {@code thin_delta} document; {@code source} names the input in messages. */
    public static ThinDelta parse(InputStream in, String source) throws IOException {
        XmlScanner scanner = new XmlScanner(in, source);
        XmlScanner.Token token = scanner.next();
        if (token != XmlScanner.Token.START || !scanner.nameIs(SUPERBLOCK)) {
            throw scanner.error("root element", ThinXml.describe(scanner, token), "<superblock>");
        }
        ThinSuperblock superblock = ThinXml.superblock(scanner);
        if (scanner.isEmptyElement()) {
            throw scanner.error("content of <superblock>", "nothing", "one <diff>");
        }
        token = scanner.next();
        if (token != XmlScanner.Token.START || !scanner.nameIs(DIFF)) {
            throw scanner.error("element in <superblock>", ThinXml.describe(scanner, token), "<diff>");
        }
        long left = -1;
        long right = -1;
        for (int i = 0; i < scanner.attributeCount(); i++) {
            if (scanner.attributeNameIs(i, LEFT)) {
                left = ThinXml.onceLong(scanner, left < 0, i, scanner.attributeLong(i, ThinXml.MAX_U32));
            } else if (scanner.attributeNameIs(i, RIGHT)) {
                right = ThinXml.onceLong(scanner, right < 0, i, scanner.attributeLong(i, ThinXml.MAX_U32));
            } else {
                throw ThinXml.unknownAttribute(scanner, i, "left, right");
            }
        }
        ThinXml.require(scanner, left >= 0, "left");
        ThinXml.require(scanner, right >= 0, "right");
        Limits limits = new Limits(superblock);
        ThinDelta.Builder builder = new ThinDelta.Builder(left, right, superblock.dataBlockSizeBytes(), true);
        if (!scanner.isEmptyElement()) {
            while (true) {
                token = scanner.next();
                if (token == XmlScanner.Token.END) {
                    break;
                }
                ThinDelta.Kind kind = kind(scanner, token);
                if (scanner.isEmptyElement()) {
                    terseRun(scanner, kind, builder, limits);
                } else {
                    if (scanner.attributeCount() > 0) {
                        throw ThinXml.unknownAttribute(
                                scanner, 0, "no attribute on a --verbose <" + kind.label() + ">");
                    }
                    verboseRuns(scanner, kind, builder, limits);
                }
            }
        }
        token = scanner.next();
        if (token != XmlScanner.Token.END) {
            throw scanner.error("element after </diff>", ThinXml.describe(scanner, token), "</superblock>");
        }
        token = scanner.next();
        if (token != XmlScanner.Token.EOF) {
            throw scanner.error(
                    "trailing content", ThinXml.describe(scanner, token), "end of input after </superblock>");
        }
        return builder.build();
    }

    private static ThinDelta.Kind kind(XmlScanner scanner, XmlScanner.Token token) throws InvalidXmlException {
        if (token == XmlScanner.Token.START) {
            for (int k = 0; k < KIND_NAMES.length; k++) {
                if (scanner.nameIs(KIND_NAMES[k])) {
                    return KINDS[k];
                }
            }
        }
        throw scanner.error(
                "element in <diff>",
                ThinXml.describe(scanner, token),
                "<same>, <different>, <left_only> or <right_only>");
    }

    /** Bounds of block numbers: ends times the block size fit a long, data blocks below nr_data_blocks. */
    private static final class Limits {
        final long maxBlocks;
        final long dataLimit;

        Limits(ThinSuperblock superblock) {
            this.maxBlocks = Long.MAX_VALUE / superblock.dataBlockSizeBytes();
            this.dataLimit = superblock.nrDataBlocks() > 0 ? superblock.nrDataBlocks() : maxBlocks;
        }
    }

    private static void terseRun(XmlScanner scanner, ThinDelta.Kind kind, ThinDelta.Builder builder, Limits limits)
            throws InvalidXmlException {
        long begin = -1;
        long length = -1;
        for (int i = 0; i < scanner.attributeCount(); i++) {
            if (scanner.attributeNameIs(i, BEGIN)) {
                begin = ThinXml.onceLong(scanner, begin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
            } else if (scanner.attributeNameIs(i, LENGTH)) {
                length = ThinXml.onceLong(scanner, length < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
            } else {
                throw ThinXml.unknownAttribute(scanner, i, "begin, length");
            }
        }
        ThinXml.require(scanner, begin >= 0, "begin");
        ThinXml.require(scanner, length >= 0, "length");
        add(scanner, kind, builder, limits, begin, length, -1, -1);
    }

    private static void verboseRuns(XmlScanner scanner, ThinDelta.Kind kind, ThinDelta.Builder builder, Limits limits)
            throws IOException {
        int ranges = 0;
        while (true) {
            XmlScanner.Token token = scanner.next();
            if (token == XmlScanner.Token.END) {
                if (ranges == 0) {
                    throw scanner.error("content of <" + kind.label() + ">", "no <range>", "at least one <range>");
                }
                return;
            }
            if (token != XmlScanner.Token.START || !scanner.nameIs(RANGE)) {
                throw scanner.error("element in <" + kind.label() + ">", ThinXml.describe(scanner, token), "<range>");
            }
            ranges++;
            long begin = -1;
            long length = -1;
            long dataBegin = -1;
            long leftDataBegin = -1;
            long rightDataBegin = -1;
            for (int i = 0; i < scanner.attributeCount(); i++) {
                if (scanner.attributeNameIs(i, BEGIN)) {
                    begin = ThinXml.onceLong(scanner, begin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, LENGTH)) {
                    length = ThinXml.onceLong(scanner, length < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (kind != ThinDelta.Kind.DIFFERENT && scanner.attributeNameIs(i, DATA_BEGIN)) {
                    dataBegin = ThinXml.onceLong(scanner, dataBegin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (kind == ThinDelta.Kind.DIFFERENT && scanner.attributeNameIs(i, LEFT_DATA_BEGIN)) {
                    leftDataBegin =
                            ThinXml.onceLong(scanner, leftDataBegin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (kind == ThinDelta.Kind.DIFFERENT && scanner.attributeNameIs(i, RIGHT_DATA_BEGIN)) {
                    rightDataBegin =
                            ThinXml.onceLong(scanner, rightDataBegin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else {
                    throw ThinXml.unknownAttribute(
                            scanner,
                            i,
                            kind == ThinDelta.Kind.DIFFERENT
                                    ? "begin, left_data_begin, right_data_begin, length"
                                    : "begin, data_begin, length");
                }
            }
            ThinXml.require(scanner, begin >= 0, "begin");
            ThinXml.require(scanner, length >= 0, "length");
            switch (kind) {
                case SAME -> {
                    ThinXml.require(scanner, dataBegin >= 0, "data_begin");
                    leftDataBegin = dataBegin;
                    rightDataBegin = dataBegin;
                }
                case DIFFERENT -> {
                    ThinXml.require(scanner, leftDataBegin >= 0, "left_data_begin");
                    ThinXml.require(scanner, rightDataBegin >= 0, "right_data_begin");
                }
                case LEFT_ONLY -> {
                    ThinXml.require(scanner, dataBegin >= 0, "data_begin");
                    leftDataBegin = dataBegin;
                }
                case RIGHT_ONLY -> {
                    ThinXml.require(scanner, dataBegin >= 0, "data_begin");
                    rightDataBegin = dataBegin;
                }
            }
            add(scanner, kind, builder, limits, begin, length, leftDataBegin, rightDataBegin);
            if (!scanner.isEmptyElement() && scanner.next() != XmlScanner.Token.END) {
                throw scanner.error("content of <range>", "an element", "</range>");
            }
        }
    }

    private static void add(
            XmlScanner scanner,
            ThinDelta.Kind kind,
            ThinDelta.Builder builder,
            Limits limits,
            long begin,
            long length,
            long leftDataBegin,
            long rightDataBegin)
            throws InvalidXmlException {
        if (length == 0) {
            throw scanner.error("attribute length of <" + scanner.name() + ">", 0, "at least 1 block");
        }
        if (begin > limits.maxBlocks - length) {
            throw scanner.error(
                    "run of origin blocks [" + begin + ", +" + length + ")",
                    "end past " + limits.maxBlocks + " blocks",
                    "an end whose byte offset fits a signed 64-bit number");
        }
        for (long data : new long[] {leftDataBegin, rightDataBegin}) {
            if (data >= 0 && data > limits.dataLimit - length) {
                throw scanner.error(
                        "run of data blocks [" + data + ", +" + length + ")",
                        "end past " + limits.dataLimit,
                        "data blocks below " + limits.dataLimit);
            }
        }
        if (begin < builder.end()) {
            throw scanner.error(
                    "run order", "begin " + begin, "at least " + builder.end() + " (runs ascend and do not overlap)");
        }
        builder.addUnmerged(kind, begin, length, leftDataBegin, rightDataBegin);
    }
}
