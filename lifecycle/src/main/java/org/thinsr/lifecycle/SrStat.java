package org.thinsr.lifecycle;

/**
 * Space figures of an SR, in bytes.
 *
 * @param totalBytes what the SR could hold at most (file: the file system's size; lvm-thin: the VG)
 * @param freeBytes what can still be allocated (file: usable space of the file system; lvm-thin:
 *     free pool space plus free VG space), at most {@code totalBytes}
 * @param physicalUtilisationBytes what the SR's volumes occupy
 * @param virtualAllocationBytes the sum of the visible volumes' virtual sizes (may exceed total)
 */
public record SrStat(long totalBytes, long freeBytes, long physicalUtilisationBytes, long virtualAllocationBytes) {
    public SrStat {
        if (totalBytes < 0) {
            throw new IllegalArgumentException("totalBytes is negative: " + totalBytes);
        }
        if (freeBytes < 0 || freeBytes > totalBytes) {
            throw new IllegalArgumentException("freeBytes " + freeBytes + " is outside [0, " + totalBytes + "]");
        }
        if (physicalUtilisationBytes < 0) {
            throw new IllegalArgumentException("physicalUtilisationBytes is negative: " + physicalUtilisationBytes);
        }
        if (virtualAllocationBytes < 0) {
            throw new IllegalArgumentException("virtualAllocationBytes is negative: " + virtualAllocationBytes);
        }
    }
}
