package dev.arica.cli.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The chart builder and the escaping under the HTML reports: axes, labels, odd text, values that cannot be drawn. */
class SvgChartTest {

    static Document parse(String xml) throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    static List<String> texts(Document d, String cls) {
        NodeList list = d.getElementsByTagName("text");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < list.getLength(); i++) {
            Element e = (Element) list.item(i);
            if (cls.equals(e.getAttribute("class"))) {
                out.add(e.getFirstChild().getNodeValue());
            }
        }
        return out;
    }

    @Test
    void escapingCoversElementsAndBothKindsOfQuotedAttributes() throws Exception {
        assertEquals("a&lt;b&gt;&amp;&quot;c&#39;\uFFFD\t", Markup.escape("a<b>&\"c'\u0001\t"));
        String odd = "x<y & \"z\" 'w'";
        Document d = parse("<p title=\"" + Markup.escape(odd) + "\" alt='" + Markup.escape(odd) + "'>" + Markup.escape(odd)
                + "</p>");
        Element p = d.getDocumentElement();
        assertEquals(odd, p.getTextContent());
        assertEquals(odd, p.getAttribute("title"));
        assertEquals(odd, p.getAttribute("alt"));
    }

    @Test
    void axesStepByOneTwoOrFiveTimesAPowerOfTen() {
        SvgChart.Axis kl = SvgChart.Axis.of(0, 0.0719, false, true);
        assertEquals(0.02, kl.step(), 1e-15);
        assertEquals(List.of("0", "0.02", "0.04", "0.06", "0.08"),
                kl.ticks().stream().map(t -> Markup.tick(t, kl.step())).toList());
        SvgChart.Axis db = SvgChart.Axis.of(20.35, 22.9, false, false);
        assertEquals(0.5, db.step(), 0);
        assertEquals(20.0, db.low(), 0);
        assertEquals(23.0, db.high(), 0);
        SvgChart.Axis layers = SvgChart.Axis.of(0, 4, true, false);
        assertEquals(1, layers.step(), 0);
        assertEquals(5, layers.ticks().size());
        SvgChart.Axis tiny = SvgChart.Axis.of(0, 4.8e-4, false, true);
        assertEquals("1.0e-04", Markup.tick(tiny.ticks().get(1), tiny.step()));
        // One value: an axis around it, not a division by zero.
        SvgChart.Axis one = SvgChart.Axis.of(3, 3, false, false);
        assertTrue(one.low() < 3 && one.high() > 3, one::toString);
    }

    @Test
    void aChartNamesItselfWritesItsNumbersAsTextAndSkipsWhatCannotBeDrawn() throws Exception {
        String svg = new SvgChart("SNR <by> layer", "what & why", "layer", "dB").integerTicks()
                .add(new SvgChart.Series("a&b", new double[] {0, 1, 2}, new double[] {20.5, Double.POSITIVE_INFINITY, 21.25},
                        new String[] {"first", "second", "third"}, SvgChart.Style.LINE_AND_MARKERS))
                .add(new SvgChart.Rule("mean 20.88 dB", 20.875)).render();
        Document d = parse(svg);
        assertEquals("SNR <by> layer", d.getElementsByTagName("title").item(0).getTextContent());
        assertEquals("what & why", d.getElementsByTagName("desc").item(0).getTextContent());
        NodeList markers = d.getElementsByTagName("circle");
        assertEquals(2, markers.getLength(), "the two finite points (the legend shows a line)");
        assertEquals("a&b, first: 20.50", markers.item(0).getTextContent());
        assertEquals("a&b, third: 21.25", markers.item(1).getTextContent());
        assertEquals(List.of("mean 20.88 dB"), texts(d, "rule-label"));
        assertEquals(List.of("a&b"), texts(d, "legend"));
        assertTrue(texts(d, "tick").containsAll(List.of("0", "1", "2", "20.4", "21", "21.4")), () -> texts(d, "tick").toString());
        assertFalse(svg.contains("NaN") || svg.contains("Infinity"));

        String empty = new SvgChart("nothing", "no values", "x", "y")
                .add(new SvgChart.Series("s", new double[] {1}, new double[] {Double.NaN}, null, SvgChart.Style.LINE)).render();
        assertEquals(List.of(), texts(parse(empty), "tick"));
        assertTrue(empty.contains("no finite values to plot"));
    }

    @Test
    void barsStartAtZeroAndCarryTheirValues() throws Exception {
        Document d = parse(new SvgChart("bits", "bits per weight", "tensors", "bits").add(new SvgChart.Bar("source", 32))
                .add(new SvgChart.Bar("q4_0", 4.627)).add(new SvgChart.Bar("nothing", Double.NaN)).render());
        assertEquals(List.of("32.00", "4.627"), texts(d, "value"));
        assertEquals(List.of("source", "q4_0", "nothing"), texts(d, "tick").subList(texts(d, "tick").size() - 3,
                texts(d, "tick").size()));
        assertEquals("0", texts(d, "tick").getFirst());
        // Many bars, many series: labels that would overlap are left to the hover titles, the legend ends in a count.
        SvgChart many = new SvgChart("many", "many bars", "tensor", "dB");
        SvgChart lines = new SvgChart("lines", "many series", "x", "y");
        for (int i = 0; i < 40; i++) {
            many.add(new SvgChart.Bar("tensor " + i, i));
            lines.add(new SvgChart.Series("text " + i, new double[] {0, 1}, new double[] {i, i + 1}, null, SvgChart.Style.LINE));
        }
        Document m = parse(many.render());
        assertEquals(40, m.getElementsByTagName("rect").getLength() - 1, "a bar each, and the plot");
        assertTrue(texts(m, "tick").stream().noneMatch(t -> t.startsWith("tensor")), () -> texts(m, "tick").toString());
        List<String> legend = texts(parse(lines.render()), "legend");
        assertEquals(15, legend.size());
        assertEquals("and 26 more", legend.getLast());
        assertThrows(IllegalStateException.class, () -> new SvgChart("t", "d", "x", "y").add(new SvgChart.Bar("b", 1))
                .add(new SvgChart.Series("s", new double[0], new double[0], null, SvgChart.Style.LINE)));
        assertThrows(IllegalArgumentException.class, () -> new SvgChart.Series("s", new double[1], new double[2], null,
                SvgChart.Style.LINE));
    }
}
