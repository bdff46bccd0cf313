package dev.arica.formats.io;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes written as people write them: "5GB" (10^9, as Hugging Face reads it), "2GiB", "500MB", "123". */
public final class ByteSize {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]?I?B?)", Pattern.CASE_INSENSITIVE);

    private ByteSize() {}

    public static long parse(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: '" + text + "' (examples: 5GB, 500MB, 2GiB, 1000000)");
        }
        String unit = m.group(2).toUpperCase(Locale.ROOT);
        boolean binary = unit.contains("I");
        if (binary && !unit.endsWith("B")) {
            throw new IllegalArgumentException("not a size: '" + text + "' (examples: 5GB, 500MB, 2GiB, 1000000)");
        }
        int power = unit.isEmpty() ? 0 : "BKMGT".indexOf(unit.charAt(0));
        if (power < 0) {
            power = 0;
        }
        double base = binary ? 1024 : 1000;
        double value = Double.parseDouble(m.group(1)) * Math.pow(base, power);
        if (value < 1 || value > Long.MAX_VALUE) {
            throw new IllegalArgumentException("size out of range: '" + text + "'");
        }
        return (long) value;
    }

    /** A short human form, decimal units: "4.29 GB". */
    public static String format(long bytes) {
        if (bytes < 1000) {
            return bytes + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB", "PB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, units[u]);
    }
}
