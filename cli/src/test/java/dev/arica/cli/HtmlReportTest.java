package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * {@code quantize --report FILE.html} and {@code validate --report FILE.html} on stories260K: each page parses (as the
 * well-formed XHTML it is written as), refers to nothing outside itself, and shows in its SVG charts and tables the
 * figures of the JSON report of the same run.
 */
class HtmlReportTest {

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
    }

    /** Parses {@code file} strictly as XML: an unescaped name or an unclosed element fails here. */
    static Document parse(Path file) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setExpandEntityReferences(false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(Files.readAllBytes(file)));
    }

    /** No script, no link, image or frame, no URL in any attribute or in the style sheet. */
    static void assertSelfContained(Path file, Document d) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        assertTrue(text.startsWith("<!DOCTYPE html>\n"), "an HTML5 page");
        for (String tag : List.of("script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignObject")) {
            assertEquals(0, d.getElementsByTagName(tag).getLength(), () -> "a <" + tag + "> in " + file);
        }
        NodeList all = d.getElementsByTagName("*");
        for (int i = 0; i < all.getLength(); i++) {
            NamedNodeMap attributes = all.item(i).getAttributes();
            for (int a = 0; a < attributes.getLength(); a++) {
                String name = attributes.item(a).getNodeName().toLowerCase(Locale.ROOT);
                assertFalse(name.equals("src") || name.endsWith("href") || name.startsWith("on"),
                        () -> "attribute " + name + " in " + file);
            }
        }
        String lower = text.toLowerCase(Locale.ROOT);
        for (String ref : List.of("http:", "https:", "url(", "@import", "javascript:")) {
            assertFalse(lower.contains(ref), () -> ref + " in " + file);
        }
    }

    static List<Element> elements(Node root, String tag) {
        NodeList list = root instanceof Document d ? d.getElementsByTagName(tag) : ((Element) root).getElementsByTagName(tag);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < list.getLength(); i++) {
            out.add((Element) list.item(i));
        }
        return out;
    }

    /** The texts of the {@code tag} elements under {@code root} with class {@code cls} (any, when null). */
    static List<String> texts(Node root, String tag, String cls) {
        return elements(root, tag).stream().filter(e -> cls == null || cls.equals(e.getAttribute("class")))
                .map(e -> ownText(e)).toList();
    }

    /** The text of {@code e} without that of its child elements (a label's hover title). */
    static String ownText(Element e) {
        StringBuilder b = new StringBuilder();
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.TEXT_NODE) {
                b.append(n.getNodeValue());
            }
        }
        return b.toString();
    }

    /** Every chart has its accessible name and description; returns them by title. */
    static List<Element> charts(Document d) {
        List<Element> svgs = elements(d, "svg");
        for (Element svg : svgs) {
            Element first = (Element) elementChildren(svg).get(0);
            Element second = (Element) elementChildren(svg).get(1);
            assertEquals("title", first.getTagName());
            assertEquals("desc", second.getTagName());
            assertFalse(first.getTextContent().isBlank() || second.getTextContent().isBlank());
            assertEquals(first.getAttribute("id") + " " + second.getAttribute("id"), svg.getAttribute("aria-labelledby"));
        }
        return svgs;
    }

    static List<Node> elementChildren(Element e) {
        List<Node> out = new ArrayList<>();
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.ELEMENT_NODE) {
                out.add(n);
            }
        }
        return out;
    }

    static Element chart(List<Element> svgs, String title) {
        return svgs.stream().filter(s -> elementChildren(s).get(0).getTextContent().equals(title)).findFirst()
                .orElseThrow(() -> new AssertionError("no chart '" + title + "'"));
    }

    /** The rows (cell texts) of the table whose caption starts with {@code caption}. */
    static List<List<String>> table(Document d, String caption) {
        Element t = elements(d, "table").stream()
                .filter(e -> elements(e, "caption").getFirst().getTextContent().startsWith(caption)).findFirst()
                .orElseThrow(() -> new AssertionError("no table '" + caption + "'"));
        return elements(elements(t, "tbody").getFirst(), "tr").stream()
                .map(tr -> elements(tr, "td").stream().map(Element::getTextContent).toList()).toList();
    }

    /** As the pages write figures (and validate its table): four significant digits. */
    static String g4(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }

    static JsonNode readJson(Path file) throws IOException {
        return CliTesting.JSON.readTree(Files.readString(file));
    }

    /** Per-tensor schemes appear among the settings, each rule as given, and each tensor's own storage in the table. */
    @Test
    void quantizeReportListsThePerTensorSchemes() throws Exception {
        Path html = tmp.resolve("mixed.html");
        ok("quantize", Stories260K.checkpoint().toString(), "-o", tmp.resolve("mixed.arica").toString(), "--scheme", "q4_0",
                "--no-digest-cache", "--tensor-scheme", "v_proj=q8_0", "--tensor-scheme", "k_proj=int8:64", "--report",
                html.toString());
        Document d = parse(html);
        assertSelfContained(html, d);
        assertTrue(table(d, "How the file was quantized (as in the JSON report)").contains(
                List.of("tensor_schemes", "v_proj=q8_0; k_proj=int8 g64")), "the rules among the settings");
        assertTrue(table(d, "Tensors in file order; SNR = 10 log10(signal power / error power)").stream().anyMatch(
                r -> r.getFirst().equals("model.layers.2.self_attn.k_proj.weight") && r.get(3).equals("int8 g64")),
                "the k projection's own storage");
    }

    @Test
    void quantizeReportChartsTheSnrOfEveryQuantizedTensorAsTheJsonReportGivesIt() throws Exception {
        Path out = tmp.resolve("q4_0.arica");
        Path json = tmp.resolve("q4_0.json");
        Path html = tmp.resolve("q4_0.html");
        ok("quantize", Stories260K.checkpoint().toString(), "-o", out.toString(), "--scheme", "q4_0", "--no-digest-cache",
                "--report", html.toString(), "--report", json.toString());
        JsonNode j = readJson(json);
        // The JSON beside the page is the one a run with the JSON alone writes, but for the output's name and the file's
        // size (its provenance records the command line).
        Path alone = tmp.resolve("alone.json");
        ok("quantize", Stories260K.checkpoint().toString(), "-o", tmp.resolve("alone.arica").toString(), "--scheme", "q4_0",
                "--no-digest-cache", "--report", alone.toString());
        ObjectNode expected = (ObjectNode) readJson(alone);
        expected.put("output", out.toString());
        assertEquals(Files.size(out), j.get("totals").get("file_bytes").asLong());
        ((ObjectNode) expected.get("totals")).set("file_bytes", j.get("totals").get("file_bytes"));
        assertTrue(expected.equals(j), "the same JSON report");
        assertEquals(47, j.get("tensors").size());
        Document d = parse(html);
        assertSelfContained(html, d);
        List<Element> svgs = charts(d);
        assertEquals(2, svgs.size(), "bits per weight, SNR by layer (no quantized tensor outside the layers)");

        Element snr = chart(svgs, "SNR by layer and role");
        Set<String> points = new HashSet<>(texts(snr, "title", null));
        int quantized = 0;
        long quantBytes = 0;
        long quantElements = 0;
        for (JsonNode t : j.get("tensors")) {
            if (!t.get("quantized").asBoolean()) {
                continue;
            }
            quantized++;
            quantBytes += t.get("bytes_after").asLong();
            quantElements += t.get("shape").get(0).asLong() * t.get("shape").get(1).asLong();
            String name = t.get("name").asText();
            // model.layers.3.attention.wq.weight: the line of role attention.wq, the point of layer 3.
            String[] parts = name.split("\\.", 4);
            String role = parts[3].substring(0, parts[3].length() - ".weight".length());
            String point = role + ", layer " + parts[2] + " (" + name + "): " + g4(t.get("snr_db").asDouble());
            assertTrue(points.contains(point), () -> point + " not among the chart's points " + points);
        }
        assertEquals(35, quantized);
        assertEquals(quantized, elements(snr, "circle").stream().filter(c -> "marker".equals(c.getAttribute("class"))).count());
        assertEquals(7, texts(snr, "text", "legend").size(), "one line per role");
        assertEquals(List.of("mean " + g4(j.get("totals").get("mean_snr_db").asDouble()) + " dB"),
                texts(snr, "text", "rule-label"));
        List<Double> ticks = texts(snr, "text", "tick").stream().map(Double::parseDouble).toList();
        assertTrue(ticks.containsAll(List.of(0.0, 1.0, 2.0, 3.0, 4.0)), () -> "layer ticks " + ticks);
        assertTrue(ticks.stream().anyMatch(t -> t > 15 && t < 30), () -> "dB ticks " + ticks);

        // Bits per weight: the q4_0 tensors' from the JSON's bytes and shapes, scales and padding included.
        Element bits = chart(svgs, "Bits per weight");
        String q4Bits = g4(8.0 * quantBytes / quantElements);
        assertTrue(texts(bits, "text", "value").contains(q4Bits), () -> q4Bits + " not in " + texts(bits, "text", "value"));
        assertTrue(8.0 * quantBytes / quantElements > 4.5 && 8.0 * quantBytes / quantElements < 5.1, q4Bits);

        List<List<String>> rows = table(d, "Tensors in file order");
        assertEquals(47, rows.size());
        for (int i = 0; i < rows.size(); i++) {
            JsonNode t = j.get("tensors").get(i);
            assertEquals(t.get("name").asText(), rows.get(i).get(0));
            assertEquals(t.get("storage").asText(), rows.get(i).get(3));
            assertEquals(t.get("snr_db").isNull() ? "-" : g4(t.get("snr_db").asDouble()), rows.get(i).get(5));
            assertEquals(t.get("bytes_after").asText(), rows.get(i).get(9));
        }
        List<List<String>> size = table(d, "Bytes of the tensors");
        assertTrue(size.getFirst().get(1).startsWith(j.get("totals").get("bytes_before").asText() + " ("), size::toString);
        assertTrue(size.get(2).get(1).startsWith(Files.size(out) + " ("), size::toString);
        assertTrue(table(d, "How the file was quantized").contains(List.of("scheme", "q4_0")));
    }

    /** A safetensors file written by hand: {@code names} as [rows, 64] float32 weights of random values. */
    static Path safetensors(Path file, List<String> names, int rows) throws IOException {
        ObjectNode header = CliTesting.JSON.createObjectNode();
        long offset = 0;
        long bytes = rows * 64L * 4;
        for (String n : names) {
            ObjectNode t = header.putObject(n);
            t.put("dtype", "F32");
            t.putArray("shape").add(rows).add(64);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] h = CliTesting.JSON.writeValueAsBytes(header);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Random random = new Random(7);
        while (b.hasRemaining()) {
            b.putFloat((float) random.nextGaussian());
        }
        return Files.write(file, b.array());
    }

    @Test
    void oddTensorNamesAreEscapedInTheChartsAndTables() throws Exception {
        String role = "mlp.<up> & \"gate's\"";
        List<String> names = List.of("model.layers.0." + role + ".weight", "model.layers.1." + role + ".weight",
                "model.layers.0.x</td></tr><script>.weight");
        Path in = safetensors(tmp.resolve("odd.safetensors"), names, 8);
        Path html = tmp.resolve("odd.html");
        Path json = tmp.resolve("odd.json");
        ok("quantize", in.toString(), "-o", tmp.resolve("odd.arica").toString(), "--scheme", "q8_0", "--no-digest-cache",
                "--report", json.toString(), "--report", html.toString());
        Document d = parse(html);
        assertSelfContained(html, d);
        String raw = Files.readString(html);
        assertTrue(raw.contains("mlp.&lt;up&gt; &amp; &quot;gate&#39;s&quot;"), "escaped, quotes included");
        List<List<String>> rows = table(d, "Tensors in file order");
        assertEquals(names, rows.stream().map(r -> r.getFirst()).toList(), "the names read back as they are");
        Element snr = chart(charts(d), "SNR by layer and role");
        assertTrue(texts(snr, "text", "legend").contains(role), () -> texts(snr, "text", "legend").toString());
        JsonNode t = readJson(json).get("tensors").get(1);
        assertTrue(texts(snr, "title", null).contains(role + ", layer 1 (" + names.get(1) + "): "
                + g4(t.get("snr_db").asDouble())), () -> texts(snr, "title", null).toString());
    }

    @Test
    void aGptqCheckpointStoredAsQuantizedHasNoErrorToChart() throws Exception {
        Path html = tmp.resolve("gptq.html");
        Path json = tmp.resolve("gptq.json");
        ok("quantize", TestModels.dir("tiny-falcon-gptq").toString(), "-o", tmp.resolve("gptq.arica").toString(),
                "--no-digest-cache", "--report", html.toString(), "--report", json.toString());
        Document d = parse(html);
        assertSelfContained(html, d);
        assertEquals(List.of("Bits per weight"), charts(d).stream()
                .map(svg -> elementChildren(svg).get(0).getTextContent()).toList(), "no SNR to draw");
        assertTrue(texts(d, "p", null).contains("Every quantized tensor is exact (stored as its source quantized it): no "
                + "error to chart."), () -> texts(d, "p", null).toString());
        JsonNode tensors = readJson(json).get("tensors");
        List<List<String>> rows = table(d, "Tensors in file order");
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(tensors.get(i).get("quantized").asBoolean() ? "exact" : "-", rows.get(i).get(5));
        }
        assertTrue(table(d, "How the file was quantized").contains(List.of("scheme", "gptq")));
    }

    @Test
    void validateReportDrawsTheKlOfEveryPositionAndTheAgreementAsTheJsonGivesThem() throws Exception {
        Path bin = Stories260K.checkpoint();
        Path q4 = tmp.resolve("candidate-q4_0.arica");
        ok("quantize", bin.toString(), "-o", q4.toString(), "--scheme", "q4_0", "--no-digest-cache");
        Path json = tmp.resolve("validate.json");
        Path html = tmp.resolve("validate.html");
        CliTesting.Run r = run("validate", "--reference", bin.toString(), "--candidate", q4.toString(), "--cache-dir",
                tmp.resolve("cache").toString(), "--threads", "1", "--device", "cpu", "--min-agreement", "0.98", "--max-kl",
                "0.001", "--json", json.toString(), "--report", html.toString());
        assertEquals(ExitCode.FAILED, r.exit(), r::toString);
        JsonNode j = readJson(json);
        JsonNode tf = j.get("teacher_forced");
        int positions = tf.get("positions").asInt();
        int agreeing = tf.get("agreeing").asInt();
        assertTrue(agreeing < positions, "q4_0 differs somewhere");

        Document d = parse(html);
        assertSelfContained(html, d);
        assertEquals("FAIL", elements(d, "p").stream().filter(p -> p.getAttribute("class").startsWith("verdict"))
                .findFirst().orElseThrow().getTextContent());
        List<Element> svgs = charts(d);
        assertEquals(2, svgs.size(), "the KL curve and the agreement");

        Element kl = chart(svgs, "KL divergence by position");
        List<Element> lines = elements(kl, "polyline");
        JsonNode texts = tf.get("texts");
        assertEquals(texts.size(), lines.size(), "one curve per text");
        for (int i = 0; i < texts.size(); i++) {
            String[] pts = lines.get(i).getAttribute("points").trim().split(" ");
            assertEquals(texts.get(i).get("positions").asInt(), pts.length, "a point per position");
        }
        assertEquals(positions - agreeing, elements(kl, "circle").stream()
                .filter(c -> "marker".equals(c.getAttribute("class"))).count(), "a mark where top-1 differs");
        assertEquals(List.of("mean KL " + g4(tf.get("mean_kl").asDouble()), "--max-kl 0.001"), texts(kl, "text", "rule-label"));

        Element agreement = chart(svgs, "Top-1 agreement by text");
        List<String> expected = new ArrayList<>();
        texts.forEach(t -> expected.add(g4(t.get("top1_agreement").asDouble())));
        expected.add(g4(tf.get("top1_agreement").asDouble()));
        assertEquals(expected, texts(agreement, "text", "value"));
        assertEquals(List.of("--min-agreement 0.98"), texts(agreement, "text", "rule-label"));

        List<List<String>> checks = table(d, "Each threshold given");
        assertEquals(List.of("top-1 agreement", ThresholdText.figure(tf.get("top1_agreement").asDouble()), ">=", "0.98",
                "--min-agreement", "FAIL"), checks.getFirst());
        assertEquals("FAIL", checks.get(1).getLast());

        // The chart's numbers, position by position: their mean is the JSON's mean KL.
        List<List<String>> each = table(d, "KL divergence and top-1 at every position");
        assertEquals(positions, each.size());
        assertEquals(positions - agreeing, each.stream().filter(row -> row.get(3).equals("differs")).count());
        double sum = each.stream().mapToDouble(row -> Double.parseDouble(row.get(2))).sum();
        assertEquals(tf.get("mean_kl").asDouble(), sum / positions, 1e-3 * tf.get("mean_kl").asDouble());
        List<List<String>> models = table(d, "The two models");
        assertEquals(List.of("reference", "candidate"), models.stream().map(List::getFirst).toList());
        assertTrue(models.get(1).get(3).startsWith(Files.size(q4) + " ("), models::toString);
    }

    @Test
    void validateReportIsAnHtmlFileOfADecoderRun() throws IOException {
        Path bin = Stories260K.checkpoint();
        Path json = tmp.resolve("named.json");
        assertBadInput(run("validate", "--reference", bin.toString(), "--candidate", bin.toString(), "--report",
                json.toString()), "--report", json.toString(), "--json");
        assertNothingWritten(json);
        Path bert = TestModels.dir("tiny-bert");
        Path html = tmp.resolve("bert.html");
        assertBadInput(run("validate", "--reference", bert.toString(), "--candidate", bert.toString(), "--report",
                html.toString()), "--report", "encoder");
        assertNothingWritten(html);
    }
}
