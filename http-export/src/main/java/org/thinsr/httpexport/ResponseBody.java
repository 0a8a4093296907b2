package org.thinsr.httpexport;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A response body planned before its first byte: its exact length is known, and any byte range of
 * it can be produced without producing the rest (what {@code Range} requests and resumed downloads
 * need).
 */
interface ResponseBody {
    long length();

    String contentType();

    /**
     * Writes bytes {@code [from, to)} of the body to {@code out}; {@code 0 <= from <= to <=
     * length()}. Does not close {@code out}.
     */
    void writeRange(long from, long to, OutputStream out) throws IOException;
}
