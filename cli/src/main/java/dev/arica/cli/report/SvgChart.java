package dev.arica.cli.report;

import static dev.arica.cli.report.Markup.coordinate;
import static dev.arica.cli.report.Markup.escape;

import java.util.ArrayList;
import java.util.List;

/**
 * One chart as inline SVG, with every number a reader needs written as text: axis ticks, axis titles, the labels of
 * reference lines and of bars, and each marked point's value in its own {@code <title>} (four significant digits).
 * Two kinds: points along a numeric x axis (series drawn as lines, markers or both) and labelled bars. Nothing refers
 * outside the SVG.
 */
public final class SvgChart {

    /** How a series is drawn. */
    public enum Style {
        LINE,
        MARKERS,
        LINE_AND_MARKERS
    }

    /** A series of points; {@code labels[i]} is point i's hover text (its value is added), null for none. */
    public record Series(String name, double[] x, double[] y, String[] labels, Style style) {
        public Series {
            if (x.length != y.length || (labels != null && labels.length != x.length)) {
                throw new IllegalArgumentException("series " + name + ": " + x.length + " x against " + y.length + " y");
            }
        }
    }

    /** A horizontal line across the plot at {@code y}, with its label ("mean KL 0.07188", "--max-kl 0.001"). */
    public record Rule(String label, double y) {}

    /** A bar: its category label and value. */
    public record Bar(String label, double value) {}

    // The palette: distinguishable in colour and, for the first few, for common colour blindness (Okabe-Ito).
    private static final String[] COLOURS = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#000000", "#d55e00",
        "#f0e442", "#7f7f7f", "#8c564b"};
    private static final int WIDTH = 760;
    private static final int HEIGHT = 340;
    private static final int LEFT = 76;
    private static final int RIGHT = 200;
    private static final int TOP = 36;
    private static final int BOTTOM = 56;
    /** The narrowest slot of a bar whose label is written under it, in pixels (about four characters). */
    private static final int MIN_LABELLED_SLOT = 26;
    /** Legend rows that fit beside the plot; the series after them are named in their hover titles only. */
    private static final int MAX_LEGEND_ROWS = 14;

    private final String title;
    private final String description;
    private final String xTitle;
    private final String yTitle;
    private final List<Series> series = new ArrayList<>();
    private final List<Rule> rules = new ArrayList<>();
    private final List<Bar> bars = new ArrayList<>();
    private boolean integerX;
    private boolean zeroY;

    /**
     * @param title the chart's heading, also its SVG {@code <title>}
     * @param description what it shows, in words: its SVG {@code <desc>}
     */
    public SvgChart(String title, String description, String xTitle, String yTitle) {
        this.title = title;
        this.description = description;
        this.xTitle = xTitle;
        this.yTitle = yTitle;
    }

    public SvgChart add(Series s) {
        if (!bars.isEmpty()) {
            throw new IllegalStateException("a chart has bars or series, not both");
        }
        series.add(s);
        return this;
    }

    public SvgChart add(Bar b) {
        if (!series.isEmpty()) {
            throw new IllegalStateException("a chart has bars or series, not both");
        }
        bars.add(b);
        return this;
    }

    public SvgChart add(Rule r) {
        rules.add(r);
        return this;
    }

    /** Ticks of the x axis on whole numbers only (layers, positions). */
    public SvgChart integerTicks() {
        this.integerX = true;
        return this;
    }

    /** The y axis of a points chart starts at zero (KL, fractions), not just below the smallest value (dB). */
    public SvgChart zeroBased() {
        this.zeroY = true;
        return this;
    }

    public String title() {
        return title;
    }

    public String render() {
        StringBuilder b = new StringBuilder();
        b.append("<svg class=\"chart\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT)
                .append("\" role=\"img\" aria-labelledby=\"").append(id()).append("-t ").append(id()).append("-d\">\n");
        b.append("<title id=\"").append(id()).append("-t\">").append(escape(title)).append("</title>\n");
        b.append("<desc id=\"").append(id()).append("-d\">").append(escape(description)).append("</desc>\n");
        b.append("<rect class=\"plot\" x=\"").append(LEFT).append("\" y=\"").append(TOP).append("\" width=\"")
                .append(plotWidth()).append("\" height=\"").append(plotHeight()).append("\"/>\n");
        if (bars.isEmpty()) {
            points(b);
        } else {
            bars(b);
        }
        b.append("<text class=\"axis-title\" x=\"").append(LEFT + plotWidth() / 2).append("\" y=\"").append(HEIGHT - 10)
                .append("\" text-anchor=\"middle\">").append(escape(xTitle)).append("</text>\n");
        b.append("<text class=\"axis-title\" transform=\"translate(16 ").append(TOP + plotHeight() / 2)
                .append(") rotate(-90)\" text-anchor=\"middle\">").append(escape(yTitle)).append("</text>\n");
        b.append("</svg>\n");
        return b.toString();
    }

    private String id() {
        // Ids unique within a page as long as titles are (each report's are).
        return "c" + Integer.toHexString(title.hashCode());
    }

    private static int plotWidth() {
        return WIDTH - LEFT - RIGHT;
    }

    private static int plotHeight() {
        return HEIGHT - TOP - BOTTOM;
    }

    private void points(StringBuilder b) {
        double xMin = Double.POSITIVE_INFINITY, xMax = Double.NEGATIVE_INFINITY;
        double yMin = Double.POSITIVE_INFINITY, yMax = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
                    xMin = Math.min(xMin, s.x()[i]);
                    xMax = Math.max(xMax, s.x()[i]);
                    yMin = Math.min(yMin, s.y()[i]);
                    yMax = Math.max(yMax, s.y()[i]);
                }
            }
        }
        for (Rule r : rules) {
            if (Double.isFinite(r.y())) {
                yMin = Math.min(yMin, r.y());
                yMax = Math.max(yMax, r.y());
            }
        }
        if (xMin > xMax) {
            b.append("<text class=\"note\" x=\"").append(LEFT + plotWidth() / 2).append("\" y=\"").append(TOP + plotHeight() / 2)
                    .append("\" text-anchor=\"middle\">no finite values to plot</text>\n");
            return;
        }
        Axis x = Axis.of(xMin, xMax, integerX, false);
        Axis y = Axis.of(yMin, yMax, false, zeroY && yMin >= 0);
        xTicks(b, x);
        yTicks(b, y);
        rules(b, y);
        int legend = 0;
        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            String colour = COLOURS[k % COLOURS.length];
            if (s.style() != Style.MARKERS) {
                b.append("<polyline class=\"series\" stroke=\"").append(colour).append("\" points=\"");
                for (int i = 0; i < s.x().length; i++) {
                    if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
                        b.append(coordinate(px(x, s.x()[i]))).append(',').append(coordinate(py(y, s.y()[i]))).append(' ');
                    }
                }
                b.append("\"><title>").append(escape(s.name())).append("</title></polyline>\n");
            }
            if (s.style() != Style.LINE) {
                for (int i = 0; i < s.x().length; i++) {
                    if (!Double.isFinite(s.x()[i]) || !Double.isFinite(s.y()[i])) {
                        continue;
                    }
                    b.append("<circle class=\"marker\" fill=\"").append(colour).append("\" cx=\"")
                            .append(coordinate(px(x, s.x()[i]))).append("\" cy=\"").append(coordinate(py(y, s.y()[i])))
                            .append("\" r=\"3.5\"><title>").append(escape(s.name()));
                    if (s.labels() != null && s.labels()[i] != null) {
                        b.append(", ").append(escape(s.labels()[i]));
                    }
                    b.append(": ").append(escape(Markup.figure(s.y()[i]))).append("</title></circle>\n");
                }
            }
            if (legend < MAX_LEGEND_ROWS) {
                legend(b, legend++, colour, s.name(), s.style());
            }
        }
        if (series.size() > MAX_LEGEND_ROWS) {
            b.append("<text class=\"legend\" x=\"").append(LEFT + plotWidth() + 8).append("\" y=\"")
                    .append(TOP + 10 + MAX_LEGEND_ROWS * 18).append("\">and ").append(series.size() - MAX_LEGEND_ROWS)
                    .append(" more</text>\n");
        }
    }

    private void bars(StringBuilder b) {
        double yMin = 0, yMax = 0;
        for (Bar bar : bars) {
            if (Double.isFinite(bar.value())) {
                yMin = Math.min(yMin, bar.value());
                yMax = Math.max(yMax, bar.value());
            }
        }
        for (Rule r : rules) {
            if (Double.isFinite(r.y())) {
                yMin = Math.min(yMin, r.y());
                yMax = Math.max(yMax, r.y());
            }
        }
        // Bars start at zero: their lengths are the values.
        Axis y = Axis.of(yMin, yMax, false, yMin >= 0);
        yTicks(b, y);
        double slot = (double) plotWidth() / bars.size();
        double width = Math.min(60, slot * 0.7);
        for (int i = 0; i < bars.size(); i++) {
            Bar bar = bars.get(i);
            double centre = LEFT + slot * (i + 0.5);
            String text = Markup.figure(bar.value());
            if (Double.isFinite(bar.value())) {
                double top = py(y, Math.max(0, bar.value()));
                double bottom = py(y, Math.min(0, bar.value()));
                b.append("<rect class=\"bar\" fill=\"").append(COLOURS[0]).append("\" x=\"").append(coordinate(centre - width / 2))
                        .append("\" y=\"").append(coordinate(top)).append("\" width=\"").append(coordinate(width))
                        .append("\" height=\"").append(coordinate(Math.max(0.5, bottom - top))).append("\"><title>")
                        .append(escape(bar.label())).append(": ").append(escape(text)).append("</title></rect>\n");
                b.append("<text class=\"value\" x=\"").append(coordinate(centre)).append("\" y=\"").append(coordinate(top - 4))
                        .append("\" text-anchor=\"middle\">").append(escape(text)).append("</text>\n");
            }
            // Too many bars for their labels to be read: each keeps its label in its hover title only.
            if (slot >= MIN_LABELLED_SLOT) {
                b.append("<text class=\"tick\" x=\"").append(coordinate(centre)).append("\" y=\"")
                        .append(TOP + plotHeight() + 16).append("\" text-anchor=\"middle\">")
                        .append(escape(shorten(bar.label(), slot))).append("<title>").append(escape(bar.label()))
                        .append("</title></text>\n");
            }
        }
        rules(b, y);
    }

    /** A label that fits its bar's slot, at about 6.5 pixels a character. */
    private static String shorten(String label, double slot) {
        int most = Math.max(4, (int) (slot / 6.5));
        return label.length() <= most ? label : "\u2026" + label.substring(label.length() - most + 1);
    }

    private void rules(StringBuilder b, Axis y) {
        for (int i = 0; i < rules.size(); i++) {
            Rule r = rules.get(i);
            if (!Double.isFinite(r.y())) {
                continue;
            }
            double at = py(y, r.y());
            b.append("<line class=\"rule\" x1=\"").append(LEFT).append("\" x2=\"").append(LEFT + plotWidth()).append("\" y1=\"")
                    .append(coordinate(at)).append("\" y2=\"").append(coordinate(at)).append("\"/>\n");
            // Inside the plot, right-aligned above the line: the right margin holds the legend.
            b.append("<text class=\"rule-label\" x=\"").append(LEFT + plotWidth() - 4).append("\" y=\"")
                    .append(coordinate(at - 4)).append("\" text-anchor=\"end\">")
                    .append(escape(r.label())).append("</text>\n");
        }
    }

    private void legend(StringBuilder b, int row, String colour, String name, Style style) {
        double y = TOP + 10 + row * 18;
        int x = LEFT + plotWidth() + 8;
        if (style == Style.MARKERS) {
            b.append("<circle fill=\"").append(colour).append("\" cx=\"").append(x + 8).append("\" cy=\"")
                    .append(coordinate(y - 4)).append("\" r=\"3.5\"/>");
        } else {
            b.append("<line class=\"series\" stroke=\"").append(colour).append("\" x1=\"").append(x).append("\" x2=\"")
                    .append(x + 16).append("\" y1=\"").append(coordinate(y - 4)).append("\" y2=\"").append(coordinate(y - 4))
                    .append("\"/>");
        }
        b.append("<text class=\"legend\" x=\"").append(x + 22).append("\" y=\"").append(coordinate(y)).append("\">")
                .append(escape(name)).append("</text>\n");
    }

    private void xTicks(StringBuilder b, Axis x) {
        for (double t : x.ticks()) {
            double at = px(x, t);
            b.append("<line class=\"grid\" x1=\"").append(coordinate(at)).append("\" x2=\"").append(coordinate(at))
                    .append("\" y1=\"").append(TOP).append("\" y2=\"").append(TOP + plotHeight()).append("\"/>");
            b.append("<text class=\"tick\" x=\"").append(coordinate(at)).append("\" y=\"").append(TOP + plotHeight() + 16)
                    .append("\" text-anchor=\"middle\">").append(Markup.tick(t, x.step())).append("</text>\n");
        }
    }

    private void yTicks(StringBuilder b, Axis y) {
        for (double t : y.ticks()) {
            double at = py(y, t);
            b.append("<line class=\"grid\" x1=\"").append(LEFT).append("\" x2=\"").append(LEFT + plotWidth()).append("\" y1=\"")
                    .append(coordinate(at)).append("\" y2=\"").append(coordinate(at)).append("\"/>");
            b.append("<text class=\"tick\" x=\"").append(LEFT - 6).append("\" y=\"").append(coordinate(at + 4))
                    .append("\" text-anchor=\"end\">").append(Markup.tick(t, y.step())).append("</text>\n");
        }
    }

    private static double px(Axis x, double v) {
        return LEFT + (v - x.low()) / (x.high() - x.low()) * plotWidth();
    }

    private static double py(Axis y, double v) {
        return TOP + plotHeight() - (v - y.low()) / (y.high() - y.low()) * plotHeight();
    }

    /** An axis from {@code low} to {@code high} in steps of 1, 2 or 5 times a power of ten, about six of them. */
    record Axis(double low, double high, double step) {
        static Axis of(double min, double max, boolean integers, boolean fromZero) {
            if (fromZero) {
                min = 0;
            }
            if (max - min <= 0) {
                // One value: an axis around it.
                double pad = min == 0 ? 1 : Math.abs(min) * 0.1;
                min = fromZero ? 0 : min - pad;
                max = max + pad;
            }
            double raw = (max - min) / 6;
            double power = Math.pow(10, Math.floor(Math.log10(raw)));
            double f = raw / power;
            double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
            if (integers) {
                step = Math.max(1, Math.ceil(step));
            }
            return new Axis(Math.floor(min / step) * step, Math.ceil(max / step) * step, step);
        }

        List<Double> ticks() {
            List<Double> out = new ArrayList<>();
            long n = Math.round((high - low) / step);
            for (long i = 0; i <= n; i++) {
                out.add(low + i * step);
            }
            return out;
        }
    }
}
