package org.thinsr.vhdstream;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * The parent of a differencing VHD, as written into its dynamic header.
 *
 * @param uniqueId the parent footer's {@code Unique Id}
 * @param timestamp the parent's modification time (the header's {@code Parent Time Stamp})
 * @param unicodeName the parent's file name, at most 256 UTF-16 code units (the header stores it
 *     UTF-16BE)
 * @param locators at most eight locators (how a reader finds the parent's file); may be empty
 */
public record VhdParent(UUID uniqueId, Instant timestamp, String unicodeName, List<Locator> locators) {
    public VhdParent {
        Objects.requireNonNull(uniqueId, "uniqueId");
        Objects.requireNonNull(timestamp, "timestamp");
        Objects.requireNonNull(unicodeName, "unicodeName");
        locators = List.copyOf(locators);
        if (unicodeName.getBytes(StandardCharsets.UTF_16BE).length > VhdDynamicHeader.PARENT_UNICODE_NAME_SIZE) {
            throw new IllegalArgumentException("parent name is longer than 256 UTF-16 units: " + unicodeName);
        }
        if (locators.size() > VhdDynamicHeader.LOCATOR_COUNT) {
            throw new IllegalArgumentException("at most 8 parent locators, not " + locators.size());
        }
    }

    /**
     * One parent locator: a platform code and the path it encodes.
     *
     * @param platformCode {@link VhdParentLocator#PLATFORM_W2KU} or {@link
     *     VhdParentLocator#PLATFORM_W2RU} (path encoded UTF-16LE) or {@link
     *     VhdParentLocator#PLATFORM_MACX} (UTF-8 file URL)
     */
    public record Locator(int platformCode, String path) {
        public Locator {
            Objects.requireNonNull(path, "path");
            if (platformCode != VhdParentLocator.PLATFORM_W2KU
                    && platformCode != VhdParentLocator.PLATFORM_W2RU
                    && platformCode != VhdParentLocator.PLATFORM_MACX) {
                throw new IllegalArgumentException(
                        "platform code must be W2ku, W2ru or MacX: " + Integer.toHexString(platformCode));
            }
            if (encode(platformCode, path).length > VhdParentLocator.MAX_DATA_LENGTH) {
                throw new IllegalArgumentException("locator path longer than 65536 bytes");
            }
        }

        /** The locator data as written: UTF-16LE for W2ku/W2ru, UTF-8 for MacX. */
        byte[] data() {
            return encode(platformCode, path);
        }

        private static byte[] encode(int platformCode, String path) {
            return platformCode == VhdParentLocator.PLATFORM_MACX
                    ? path.getBytes(StandardCharsets.UTF_8)
                    : path.getBytes(StandardCharsets.UTF_16LE);
        }
    }
}
