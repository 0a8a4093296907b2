package org.thinsr.vhdstream;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * A differencing VHD file with its ancestors, as qemu's {@code vpc} driver and vhd-util read it: a
 * differencing disk holds only the sectors written since its parent was taken, so its content is
 * the parent's with its own sectors on top.
 *
 * <p>The parent is looked for, in this order, through the header's parent locators ({@code W2ru}:
 * a path relative to the child's directory, {@code W2ku}: an absolute path, {@code MacX}: a {@code
 * file://} URL) and last by the header's parent name next to the child; the first candidate whose
 * footer carries the header's parent unique id is the parent. A chain is at most {@value
 * #MAX_DEPTH} files and never loops; a locator longer than {@value #MAX_LOCATOR_BYTES} bytes or
 * outside the file is an error naming it.
 */
public final class VhdChain {
    static final int MAX_DEPTH = 32;
    static final int MAX_LOCATOR_BYTES = 4096;

    private VhdChain() {}

    /** {@code vhd} first, then its parent, ..., last the fixed or dynamic disk at the bottom. */
    public static List<Path> resolve(Path vhd) throws IOException {
        List<Path> chain = new ArrayList<>();
        Set<Path> seen = new HashSet<>();
        Path layer = vhd;
        while (true) {
            Path real = layer.toRealPath();
            if (!seen.add(real)) {
                throw new ThinsrException(
                        ErrorCode.CORRUPT_IMAGE, "VHD chain of " + vhd + " loops: " + layer + " is its own ancestor");
            }
            chain.add(layer);
            VhdInfo info;
            try (FileChannel channel = FileChannel.open(layer, StandardOpenOption.READ)) {
                if (VhdInfo.readFooter(channel).diskType().orElse(null) != VhdDiskType.DIFFERENCING) {
                    return List.copyOf(chain); // the bottom: its header and BAT are the reader's to check
                }
                info = VhdInfo.read(channel);
                if (info.header() == null) {
                    throw CorruptImageException.at(
                            info.footer().dataOffset(), "dynamic header of " + layer, "missing", "a header");
                }
                if (chain.size() >= MAX_DEPTH) {
                    throw new ThinsrException(
                            ErrorCode.CORRUPT_IMAGE,
                            "VHD chain of " + vhd + " is deeper than " + MAX_DEPTH + " files at " + layer);
                }
                layer = parent(layer, channel, info);
            }
        }
    }

    /**
     * Imports {@code vhd} with its ancestors into {@code sink}: the bottom disk first, then each
     * differencing layer over it (only its own sectors). The sink must be at least as large as the
     * top disk; every ancestor must be at most that large.
     *
     * @return the top disk's result, with the written and zeroed bytes of the whole chain
     */
    public static VhdReader.Result readFile(Path vhd, BlockSink sink, boolean targetIsZero) throws IOException {
        List<Path> chain = resolve(vhd);
        long written = 0;
        long zeroed = 0;
        VhdReader.Result top = null;
        for (int i = chain.size() - 1; i >= 0; i--) {
            try (FileChannel channel = FileChannel.open(chain.get(i), StandardOpenOption.READ)) {
                // a layer above the bottom lands on its parent's content: its zero runs must be written
                boolean bottom = i == chain.size() - 1;
                VhdReader.Result result = VhdReader.readFile(channel, sink, bottom && targetIsZero);
                written += result.bytesWritten();
                zeroed += result.bytesZeroed();
                top = result;
            }
        }
        return new VhdReader.Result(top.diskType(), top.virtualSize(), top.blocks(), written, zeroed);
    }

    private static Path parent(Path child, FileChannel channel, VhdInfo info) throws IOException {
        VhdDynamicHeader header = info.header();
        Path directory = child.toAbsolutePath().getParent();
        Set<Path> candidates = new LinkedHashSet<>();
        for (VhdParentLocator locator : header.parentLocators()) {
            if (!locator.isUsed()) {
                continue;
            }
            String text = locatorText(child, channel, info.fileLength(), locator);
            candidate(candidates, directory, locator.platformCode(), text);
        }
        if (!header.parentUnicodeName().isEmpty()) {
            candidate(candidates, directory, VhdParentLocator.PLATFORM_W2RU, header.parentUnicodeName());
        }
        List<String> tried = new ArrayList<>();
        for (Path candidate : candidates) {
            if (!Files.isRegularFile(candidate)) {
                tried.add(candidate + " (absent)");
                continue;
            }
            try (FileChannel parent = FileChannel.open(candidate, StandardOpenOption.READ)) {
                VhdFooter footer = VhdInfo.readFooter(parent);
                if (footer.uniqueId().equals(header.parentUniqueId())) {
                    if (footer.currentSize() > info.footer().currentSize()) {
                        throw new ThinsrException(
                                ErrorCode.CORRUPT_IMAGE,
                                "parent " + candidate + " of " + child + " is " + footer.currentSize()
                                        + " bytes, larger than its child's "
                                        + info.footer().currentSize());
                    }
                    return candidate;
                }
                tried.add(candidate + " (unique id " + footer.uniqueId() + ")");
            } catch (CorruptImageException e) {
                tried.add(candidate + " (not a VHD: " + e.getMessage() + ")");
            }
        }
        throw new ThinsrException(
                ErrorCode.NOT_FOUND,
                "parent of differencing VHD " + child + " not found: unique id " + header.parentUniqueId() + ", name '"
                        + header.parentUnicodeName() + "'; tried "
                        + (tried.isEmpty() ? "nothing" : String.join(", ", tried)));
    }

    private static String locatorText(Path child, FileChannel channel, long fileLength, VhdParentLocator locator)
            throws IOException {
        long length = Integer.toUnsignedLong(locator.dataLength());
        long offset = locator.dataOffset();
        String field = "parent locator " + VhdFormat.printable(locator.platformName()) + " of " + child;
        if (length > MAX_LOCATOR_BYTES) {
            throw CorruptImageException.at(offset, field + " length", length, "at most " + MAX_LOCATOR_BYTES);
        }
        if (offset < 0 || offset > fileLength - length) {
            throw CorruptImageException.at(offset, field + " offset", offset, "inside the file of " + fileLength);
        }
        ByteBuffer bytes = ByteBuffer.allocate((int) length);
        while (bytes.hasRemaining()) {
            if (channel.read(bytes, offset + bytes.position()) < 0) {
                throw CorruptImageException.at(offset, field, "end of file", length + " bytes");
            }
        }
        boolean utf16 = locator.platformCode() != VhdParentLocator.PLATFORM_MACX;
        String text = new String(bytes.array(), utf16 ? StandardCharsets.UTF_16LE : StandardCharsets.UTF_8);
        int nul = text.indexOf('\0');
        return nul < 0 ? text : text.substring(0, nul);
    }

    private static void candidate(Set<Path> into, Path directory, int platform, String text) {
        try {
            switch (platform) {
                case VhdParentLocator.PLATFORM_W2RU -> {
                    String relative = text.replace('\\', '/');
                    if (!relative.isEmpty()) {
                        into.add(directory.resolve(relative).normalize());
                    }
                }
                case VhdParentLocator.PLATFORM_W2KU -> {
                    Path absolute = Path.of(text.replace('\\', '/'));
                    if (absolute.isAbsolute()) {
                        into.add(absolute.normalize());
                    }
                }
                case VhdParentLocator.PLATFORM_MACX -> {
                    URI uri = URI.create(text);
                    if ("file".equals(uri.getScheme()) && uri.getPath() != null) {
                        into.add(Path.of(uri.getPath()).normalize());
                    }
                }
                default -> {
                    // deprecated or unknown platforms are not followed
                }
            }
        } catch (IllegalArgumentException e) { // InvalidPathException too
            // a locator that names no usable path is skipped; the error lists what was tried
        }
    }
}
