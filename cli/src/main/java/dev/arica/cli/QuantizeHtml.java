package dev.arica.cli;

import static dev.arica.cli.report.HtmlDocument.Column.number;
import static dev.arica.cli.report.HtmlDocument.Column.text;
import static dev.arica.cli.report.Markup.figure;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.cli.report.HtmlDocument;
import dev.arica.cli.report.HtmlDocument.Row;
import dev.arica.cli.report.SvgChart;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.ByteSize;
import dev.arica.quantize.CheckpointQuantizer.Report;
import dev.arica.quantize.CheckpointQuantizer.TensorReport;
import dev.arica.quantize.TensorSelection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The HTML page of {@code arica quantize --report FILE.html}: the settings the JSON report starts with, the sizes and
 * bits per weight, the SNR of every quantized tensor by layer and role as a chart, and every tensor in a table.
 */
final class QuantizeHtml {
    private QuantizeHtml() {}

    /** The page for {@code report}; {@code settings}: the JSON report's keys before its tensors (how it was quantized). */
    static String of(ObjectNode settings, Report report) {
        HtmlDocument page = new HtmlDocument("arica quantize report");
        page.paragraph("Output " + report.output() + ": " + report.tensors().size() + " tensors, " + report.quantizedCount()
                + " quantized; mean SNR " + db(report.meanSnrDb()) + " dB, lowest " + db(report.minSnrDb()) + " dB.");
        page.heading("Settings");
        List<Row> rows = new ArrayList<>();
        settings.properties().forEach(e -> flatten(e.getKey(), e.getValue(), rows));
        page.table("How the file was quantized (as in the JSON report)", List.of(text("setting"), text("value")), rows);
        sizes(page, report);
        snr(page, report);
        page.heading("Every tensor");
        page.table("Tensors in file order; SNR = 10 log10(signal power / error power)", List.of(text("tensor"),
                number("layer"), text("role in layer"), text("storage"), text("shape"), number("SNR dB"), number("RMSE"),
                number("max |error|"), number("bytes before"), number("bytes after"), number("bits per weight"), text("why")),
                report.tensors().stream().map(QuantizeHtml::tensorRow).toList());
        return page.render();
    }

    private static void flatten(String key, JsonNode v, List<Row> rows) {
        if (v.isObject()) {
            v.properties().forEach(e -> flatten(key + "." + e.getKey(), e.getValue(), rows));
        } else if (v.isArray()) {
            List<String> items = new ArrayList<>();
            v.forEach(i -> items.add(i.asText()));
            rows.add(Row.of(key, String.join("; ", items)));
        } else {
            rows.add(Row.of(key, v.isNull() ? "null" : v.asText()));
        }
    }

    private static void sizes(HtmlDocument page, Report report) {
        long allElements = report.tensors().stream().mapToLong(t -> TensorInfo.elements(t.shape())).sum();
        long quantElements = report.tensors().stream().filter(TensorReport::quantized)
                .mapToLong(t -> TensorInfo.elements(t.shape())).sum();
        long quantBytes = report.tensors().stream().filter(TensorReport::quantized).mapToLong(TensorReport::storedBytes).sum();
        page.heading("Size");
        page.table("Bytes of the tensors before and after, and of the file", List.of(text("figure"), number("value")), List.of(
                Row.of("tensor bytes before", bytes(report.sourceBytes())),
                Row.of("tensor bytes after", bytes(report.storedBytes())),
                Row.of("file bytes", bytes(report.fileBytes())),
                Row.of("smaller by", String.format(Locale.ROOT, "%.2fx",
                        QuantizeCommand.ratio(report.sourceBytes(), report.storedBytes()))),
                Row.of("bits per weight before (all tensors)", figure(bits(report.sourceBytes(), allElements))),
                Row.of("bits per weight after (all tensors)", figure(bits(report.storedBytes(), allElements))),
                Row.of("bits per weight of the quantized tensors (scales and zero points counted)",
                        figure(bits(quantBytes, quantElements)))));
        // Bits per weight by what was stored: the source, the whole result, each kind of storage.
        Map<String, long[]> byStorage = new LinkedHashMap<>();
        for (TensorReport t : report.tensors()) {
            long[] s = byStorage.computeIfAbsent(t.storage(), k -> new long[3]);
            s[0]++;
            s[1] += TensorInfo.elements(t.shape());
            s[2] += t.storedBytes();
        }
        SvgChart chart = new SvgChart("Bits per weight", "Bits per weight before quantization, after it over all tensors, "
                + "and for each kind of storage (bytes stored times 8 over elements; scales, zero points and padding counted).",
                "tensors", "bits per weight")
                .add(new SvgChart.Bar("source", bits(report.sourceBytes(), allElements)))
                .add(new SvgChart.Bar("all, after", bits(report.storedBytes(), allElements)));
        List<Row> rows = new ArrayList<>();
        byStorage.forEach((storage, s) -> {
            chart.add(new SvgChart.Bar(storage, bits(s[2], s[1])));
            rows.add(Row.of(storage, Long.toString(s[0]), Long.toString(s[1]), bytes(s[2]), figure(bits(s[2], s[1]))));
        });
        page.chart(chart);
        page.table("By storage", List.of(text("storage"), number("tensors"), number("elements"), number("bytes"),
                number("bits per weight")), rows);
    }

    private static void snr(HtmlDocument page, Report report) {
        page.heading("Error by layer and role");
        Map<String, List<TensorReport>> byRole = new LinkedHashMap<>();
        List<TensorReport> outside = new ArrayList<>();
        for (TensorReport t : report.tensors()) {
            if (!t.quantized() || !Double.isFinite(t.error().snrDb())) {
                continue;
            }
            Optional<TensorSelection.LayerPlace> place = TensorSelection.layerPlace(t.name());
            if (place.isPresent()) {
                byRole.computeIfAbsent(role(place.get()), k -> new ArrayList<>()).add(t);
            } else {
                outside.add(t);
            }
        }
        if (byRole.isEmpty() && outside.isEmpty()) {
            page.paragraph(report.quantizedCount() == 0 ? "No tensor was quantized: no error to chart."
                    : "Every quantized tensor is exact (stored as its source quantized it): no error to chart.");
            return;
        }
        if (!byRole.isEmpty()) {
            SvgChart chart = new SvgChart("SNR by layer and role", "Signal-to-noise ratio in dB of each quantized tensor "
                    + "inside the layers, one line per role, by layer number; higher is closer to the original.", "layer",
                    "SNR (dB)")
                    .integerTicks();
            byRole.forEach((role, ts) -> chart.add(new SvgChart.Series(role,
                    ts.stream().mapToDouble(t -> TensorSelection.layerPlace(t.name()).orElseThrow().layer()).toArray(),
                    ts.stream().mapToDouble(t -> t.error().snrDb()).toArray(),
                    ts.stream().map(t -> "layer " + TensorSelection.layerPlace(t.name()).orElseThrow().layer() + " (" + t.name()
                            + ")").toArray(String[]::new), SvgChart.Style.LINE_AND_MARKERS)));
            chart.add(new SvgChart.Rule("mean " + figure(report.meanSnrDb()) + " dB", report.meanSnrDb()));
            page.chart(chart);
        }
        if (!outside.isEmpty()) {
            SvgChart chart = new SvgChart("SNR outside the layers", "Signal-to-noise ratio in dB of each quantized tensor "
                    + "outside the numbered layers (embeddings, output head).", "tensor", "SNR (dB)");
            outside.forEach(t -> chart.add(new SvgChart.Bar(t.name(), t.error().snrDb())));
            page.chart(chart);
        }
    }

    /** The role without the ".weight" every projection ends in. */
    private static String role(TensorSelection.LayerPlace p) {
        return p.within().endsWith(".weight") ? p.within().substring(0, p.within().length() - ".weight".length()) : p.within();
    }

    private static Row tensorRow(TensorReport t) {
        Optional<TensorSelection.LayerPlace> place = TensorSelection.layerPlace(t.name());
        String snr = t.error() == null ? "-" : db(t.error().snrDb());
        return Row.of(t.name(), place.map(p -> Integer.toString(p.layer())).orElse("-"),
                place.map(QuantizeHtml::role).orElse("-"),
                t.storage(), QuantizeCommand.shape(t.shape()), snr, t.error() == null ? "-" : figure(t.error().rmse()),
                t.error() == null ? "-" : figure(t.error().maxAbsError()), Long.toString(t.sourceBytes()),
                Long.toString(t.storedBytes()), figure(bits(t.storedBytes(), TensorInfo.elements(t.shape()))),
                t.reason() + (t.padded() ? "; last group padded" : ""));
    }

    private static String bytes(long n) {
        return n + " (" + ByteSize.format(n) + ")";
    }

    /** An SNR as the table of quantize prints it in words: "exact" when there was no error at all. */
    private static String db(double snr) {
        return snr == Double.POSITIVE_INFINITY ? "exact" : figure(snr);
    }

    private static double bits(long bytes, long elements) {
        return elements == 0 ? Double.NaN : 8.0 * bytes / elements;
    }
}
