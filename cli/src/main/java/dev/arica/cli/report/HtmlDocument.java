package dev.arica.cli.report;

import static dev.arica.cli.report.Markup.escape;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * One self-contained HTML page: inline CSS, inline SVG charts, tables; no script, no reference to anything outside the
 * file, so that it reads the same in any browser with or without a network. Written as well-formed XML (polyglot
 * HTML5), so an XML parser reads it too.
 */
public final class HtmlDocument {

    /** A row of a table; {@code mark}, when not null, colours it as a passed or failed check. */
    public record Row(List<String> cells, Verdict mark) {
        public Row {
            cells = List.copyOf(cells);
        }

        public static Row of(String... cells) {
            return new Row(List.of(cells), null);
        }
    }

    /** A column of a table: its heading, and numbers right-aligned. */
    public record Column(String title, Align align) {
        public static Column text(String title) {
            return new Column(title, Align.LEFT);
        }

        public static Column number(String title) {
            return new Column(title, Align.RIGHT);
        }
    }

    /** How a column's cells are aligned. */
    public enum Align {
        LEFT,
        RIGHT
    }

    private static final String STYLE = """
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:64em;\
            padding:0 1em;color:#1b1b1b;background:#fff;line-height:1.4}
            h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
            table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
            th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
            th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
            caption{text-align:left;font-weight:600;padding:.3em 0}
            tr.pass td{background:#e8f5e9}tr.fail td{background:#fdecea}
            .verdict{font-size:1.3em;font-weight:700;padding:.3em .8em;display:inline-block;border-radius:.3em}
            .verdict.pass{background:#e8f5e9;color:#1b5e20}.verdict.fail{background:#fdecea;color:#b71c1c}
            svg.chart{width:100%;max-width:760px;height:auto;display:block;margin:.6em 0;font-size:11px}
            svg .plot{fill:#fcfcfc;stroke:#999}svg .grid{stroke:#e4e4e4}svg .tick{fill:#333}
            svg .axis-title{fill:#1b1b1b;font-size:12px}svg .series{fill:none;stroke-width:1.6}
            svg .rule{stroke:#b71c1c;stroke-dasharray:5 4}
            svg .rule-label{fill:#b71c1c;paint-order:stroke;stroke:#fff;stroke-width:3px}
            svg .value{fill:#1b1b1b;paint-order:stroke;stroke:#fff;stroke-width:3px}svg .legend{fill:#1b1b1b}svg .note{fill:#777}
            figure{margin:1em 0}figcaption{font-weight:600}details{margin:.6em 0}summary{cursor:pointer}code{font-size:.95em}
            """;

    private final String title;
    private final StringBuilder body = new StringBuilder();

    public HtmlDocument(String title) {
        this.title = title;
    }

    /** Whether a report file so named is to be HTML: it ends in .html or .htm, in any case. */
    public static boolean isHtmlName(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".html") || name.endsWith(".htm");
    }

    public HtmlDocument heading(String text) {
        body.append("<h2>").append(escape(text)).append("</h2>\n");
        return this;
    }

    public HtmlDocument paragraph(String text) {
        body.append("<p>").append(escape(text)).append("</p>\n");
        return this;
    }

    /** A verdict in large letters, coloured as {@code v}. */
    public HtmlDocument verdict(String text, Verdict v) {
        body.append("<p class=\"verdict ").append(v.name().toLowerCase(Locale.ROOT)).append("\">").append(escape(text))
                .append("</p>\n");
        return this;
    }

    /** How a verdict is shown. */
    public enum Verdict {
        PASS,
        FAIL
    }

    public HtmlDocument chart(SvgChart chart) {
        body.append("<figure>\n<figcaption>").append(escape(chart.title())).append("</figcaption>\n").append(chart.render())
                .append("</figure>\n");
        return this;
    }

    public HtmlDocument table(String caption, List<Column> columns, List<Row> rows) {
        table(body, caption, columns, rows);
        return this;
    }

    /** A table folded away under {@code summary} (long lists: every tensor, every position). */
    public HtmlDocument folded(String summary, String caption, List<Column> columns, List<Row> rows) {
        body.append("<details><summary>").append(escape(summary)).append("</summary>\n");
        table(body, caption, columns, rows);
        body.append("</details>\n");
        return this;
    }

    private static void table(StringBuilder b, String caption, List<Column> columns, List<Row> rows) {
        b.append("<table>\n<caption>").append(escape(caption)).append("</caption>\n<thead><tr>");
        for (Column c : columns) {
            b.append("<th scope=\"col\">").append(escape(c.title())).append("</th>");
        }
        b.append("</tr></thead>\n<tbody>\n");
        for (Row r : rows) {
            if (r.cells().size() != columns.size()) {
                throw new IllegalArgumentException(columns.size() + " columns, a row of " + r.cells().size());
            }
            b.append(r.mark() == null ? "<tr>" : "<tr class=\"" + r.mark().name().toLowerCase(Locale.ROOT) + "\">");
            for (int i = 0; i < r.cells().size(); i++) {
                b.append(columns.get(i).align() == Align.RIGHT ? "<td class=\"n\">" : "<td>").append(escape(r.cells().get(i)))
                        .append("</td>");
            }
            b.append("</tr>\n");
        }
        b.append("</tbody>\n</table>\n");
    }

    public String render() {
        return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>" + escape(title)
                + "</title>\n<style>\n" + STYLE + "</style>\n</head>\n<body>\n<h1>" + escape(title) + "</h1>\n" + body
                + "</body>\n</html>\n";
    }
}
