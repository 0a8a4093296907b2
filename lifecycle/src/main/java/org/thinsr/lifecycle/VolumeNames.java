package org.thinsr.lifecycle;

import java.text.Normalizer;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Volume (file stem / LV) names made from VDI name labels, in the spirit of vfat's short names: the
 * label with everything LVM would reject removed, reserved words taken out, and a {@code _N}
 * suffix when the name is taken.
 *
 * <p>LVM accepts {@code [a-zA-Z0-9+_.-]}, not starting with {@code -}, not {@code .} or {@code ..},
 * without the substrings it uses for its own sub-LVs ({@code _cdata}, {@code _tmeta}, …) and
 * without a {@code snapshot} or {@code pvmove} prefix; thinsr also refuses a leading {@code .}
 * (hidden files in the file backend) and {@code snapshot}/{@code pvmove} anywhere, and bounds the
 * length to {@value #MAX_LENGTH}. Accented letters lose their accents ({@code é → e}); white space
 * and {@code /} become {@code _}; anything else outside the set is dropped; a label that leaves
 * nothing becomes {@code vdi}.
 */
public final class VolumeNames {
    /** The longest volume name. */
    public static final int MAX_LENGTH = 64;

    /** Substrings LVM reserves (case-sensitively) for sub-LVs; thinsr also avoids them in any case. */
    static final List<String> RESERVED_SUBSTRINGS = List.of(
            "_cdata",
            "_cmeta",
            "_corig",
            "_cpool",
            "_cvol",
            "_imeta",
            "_iorig",
            "_mimage",
            "_mlog",
            "_pmspare",
            "_rimage",
            "_rmeta",
            "_tdata",
            "_tmeta",
            "_vdata",
            "_vorigin",
            "_vpool",
            "_wcorig",
            "snapshot",
            "pvmove");

    /** Names backends use for themselves. */
    public static final Set<String> RESERVED_NAMES = Set.of("thinsr_pool", "thinsr_meta", "thinsr_lock", "vdi_");

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9+_][A-Za-z0-9+_.-]{0,63}");
    private static final Pattern COMBINING_MARKS = Pattern.compile("\\p{M}+");
    private static final int MAX_SUFFIX = 1_000_000;

    private VolumeNames() {}

    /** Whether {@code name} is a valid volume name (see the class comment). */
    public static boolean isValid(String name) {
        if (name == null || !VALID.matcher(name).matches()) {
            return false;
        }
        String lower = name.toLowerCase(Locale.ROOT);
        for (String reserved : RESERVED_SUBSTRINGS) {
            if (lower.contains(reserved)) {
                return false;
            }
        }
        return true;
    }

    /** Throws {@code INVALID_ARGUMENT} unless {@link #isValid}. */
    public static String requireValid(String name) {
        if (!isValid(name)) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "invalid volume name '" + printable(name)
                            + "': expected [A-Za-z0-9+_][A-Za-z0-9+_.-]{0,63} without LVM's reserved words",
                    String.valueOf(name));
        }
        return name;
    }

    /** The label reduced to a valid name without a uniqueness suffix. */
    public static String base(String label) {
        String input = label == null ? "" : label;
        if (input.length() > 4 * MAX_LENGTH) {
            input = input.substring(0, 4 * MAX_LENGTH);
        }
        String decomposed = COMBINING_MARKS
                .matcher(Normalizer.normalize(input, Normalizer.Form.NFKD))
                .replaceAll("");
        StringBuilder kept = new StringBuilder();
        for (int i = 0; i < decomposed.length(); i++) {
            char c = decomposed.charAt(i);
            if (c < 128 && (Character.isLetterOrDigit(c) || c == '+' || c == '_' || c == '.' || c == '-')) {
                kept.append(c);
            } else if (c == ' ' || c == '\t' || c == '/') {
                if (kept.isEmpty() || kept.charAt(kept.length() - 1) != '_') {
                    kept.append('_');
                }
            }
        }
        String name = kept.toString();
        boolean changed = true;
        while (changed) {
            changed = false;
            String lower = name.toLowerCase(Locale.ROOT);
            for (String reserved : RESERVED_SUBSTRINGS) {
                int at = lower.indexOf(reserved);
                if (at >= 0) {
                    name = name.substring(0, at) + name.substring(at + reserved.length());
                    changed = true;
                    break;
                }
            }
            int leading = 0;
            while (leading < name.length() && (name.charAt(leading) == '-' || name.charAt(leading) == '.')) {
                leading++;
            }
            if (leading > 0) {
                name = name.substring(leading);
                changed = true;
            }
        }
        if (name.length() > MAX_LENGTH) {
            name = name.substring(0, MAX_LENGTH);
        }
        if (name.isEmpty() || RESERVED_NAMES.contains(name)) {
            name = "vdi";
        }
        return name;
    }

    /**
     * A valid name for {@code label} that {@code taken} does not hold: {@link #base} itself, or the
     * base cut short enough to end in {@code _1}, {@code _2}, … Reserved names count as taken.
     *
     * @throws ThinsrException {@code VDI_EXISTS} after a million taken candidates
     */
    public static String unique(String label, Predicate<String> taken) {
        String base = base(label);
        if (isFree(base, taken)) {
            return base;
        }
        for (int suffix = 1; suffix <= MAX_SUFFIX; suffix++) {
            String tail = "_" + suffix;
            String stem =
                    base.length() + tail.length() > MAX_LENGTH ? base.substring(0, MAX_LENGTH - tail.length()) : base;
            String candidate = stem + tail;
            if (isValid(candidate) && isFree(candidate, taken)) {
                return candidate;
            }
        }
        throw new ThinsrException(
                ErrorCode.VDI_EXISTS, "no free volume name for label '" + printable(label) + "'", base);
    }

    private static boolean isFree(String name, Predicate<String> taken) {
        return !RESERVED_NAMES.contains(name) && !taken.test(name);
    }

    /** {@code text} with control characters escaped and cut to 100 characters, for messages. */
    static String printable(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length() && i < 100; i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                out.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (text.length() > 100) {
            out.append("…");
        }
        return out.toString();
    }
}
