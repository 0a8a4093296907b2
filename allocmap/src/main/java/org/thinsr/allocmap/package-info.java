/**
 * Extents, extent sets and allocation maps: the core of thinsr. Depends on the JDK only.
 *
 * <p>Offsets and lengths are bytes unless the name says otherwise ({@code dataBlock}, {@code
 * blockSizeSectors}). Extents are half-open {@code [start, end)}.
 */
package org.thinsr.allocmap;
