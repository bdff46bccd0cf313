package dev.arica.upscale;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A half-open range {@code [start, end)} of source layers, copied in order: mergekit's {@code layer_range}.
 * Any pair of numbers is representable, so that {@link #check} can say what is wrong with it.
 */
public record Slice(int start, int end) {
    private static final Pattern FORM = Pattern.compile("\\s*(\\d{1,9})\\s*:\\s*(\\d{1,9})\\s*");

    /** Parses {@code START:END}, e.g. {@code 0:24}. */
    public static Slice parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a layer range START:END (e.g. 0:24)");
        }
        return new Slice(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }

    /** Parses a comma-separated list such as {@code 0:24,8:32}. */
    public static List<Slice> parseList(String text) {
        List<Slice> out = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            out.add(parse(part));
        }
        return List.copyOf(out);
    }

    public int length() {
        return end - start;
    }

    /** Refuses a reversed or empty range, or one reaching outside {@code [0, layers)}. */
    public void check(int layers) {
        if (end < start) {
            throw new IllegalArgumentException("layer range " + this + " is reversed: it ends before it starts");
        }
        if (end == start) {
            throw new IllegalArgumentException("layer range " + this + " is empty: END is exclusive, " + start + ":"
                    + (start + 1) + " copies layer " + start);
        }
        if (start < 0 || end > layers) {
            throw new IllegalArgumentException("layer range " + this + " reaches outside the model's " + layers
                    + " layers: ranges lie within 0:" + layers);
        }
    }

    @Override
    public String toString() {
        return start + ":" + end;
    }
}
