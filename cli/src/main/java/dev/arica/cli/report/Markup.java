package dev.arica.cli.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;

/** Text as it goes into the HTML and SVG of a report: escaped for elements and attributes, numbers written alike. */
public final class Markup {
    private Markup() {}

    /** {@code s} safe as element text and as a double- or single-quoted attribute value (well-formed XML too). */
    public static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                // XML 1.0 allows no other control character, even as a reference: shown as U+FFFD.
                default -> b.append(c < 0x20 && c != '\t' && c != '\n' && c != '\r' ? '\uFFFD' : c);
            }
        }
        return b.toString();
    }

    /** Four significant digits, the way validate prints its figures: 0.9120, 1.235e-05; "-" for NaN. */
    public static String figure(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return Double.isInfinite(v) ? (v > 0 ? "inf" : "-inf") : String.format(Locale.ROOT, "%.4g", v);
    }

    /** A coordinate in the SVG: two decimals are well below a pixel. */
    static String coordinate(double v) {
        return BigDecimal.valueOf(Math.round(v * 100) / 100.0).stripTrailingZeros().toPlainString();
    }

    /** An axis tick: as short as its step allows (0.25, 1e-04, 120). */
    static String tick(double v, double step) {
        if (v == 0) {
            return "0";
        }
        if (Math.abs(step) < 1e-3 || Math.abs(v) >= 1e6) {
            return String.format(Locale.ROOT, "%.1e", v);
        }
        return new BigDecimal(v).round(new MathContext(12)).setScale(Math.max(0, (int) -Math.floor(Math.log10(step)) + 1),
                RoundingMode.HALF_EVEN).stripTrailingZeros().toPlainString();
    }
}
