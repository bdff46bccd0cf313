package dev.arica.cli;

import static dev.arica.cli.report.HtmlDocument.Column.number;
import static dev.arica.cli.report.HtmlDocument.Column.text;
import static dev.arica.cli.report.Markup.figure;

import dev.arica.cli.report.HtmlDocument;
import dev.arica.cli.report.HtmlDocument.Row;
import dev.arica.cli.report.SvgChart;
import dev.arica.formats.io.ByteSize;
import dev.arica.runtime.validate.Thresholds;
import dev.arica.runtime.validate.ValidationReport;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.stream.IntStream;

/**
 * The HTML page of {@code arica validate --report FILE.html}, from the run its table and JSON object show: the verdict
 * and thresholds, the KL divergence at every teacher-forced position as a curve with the positions whose top-1 differs,
 * the top-1 agreement per text, the greedy comparison, speeds and the models' sizes on disk.
 */
final class ValidationHtml {
    private ValidationHtml() {}

    static String of(ValidationRun run) {
        ValidationReport r = run.report();
        ValidationReport.TeacherForced tf = r.teacherForced();
        HtmlDocument page = new HtmlDocument("arica validate report");
        page.verdict(run.passed() ? "PASS" : "FAIL", run.passed() ? HtmlDocument.Verdict.PASS : HtmlDocument.Verdict.FAIL);
        page.paragraph("Candidate " + run.cand().model() + " against reference " + run.ref().model() + ": top-1 agreement "
                + figure(tf.agreement()) + ", mean KL " + figure(tf.meanKl()) + " nats over " + tf.positions()
                + " teacher-forced positions.");
        thresholds(page, run);
        page.heading("Models");
        page.table("The two models, as given, and their greedy decoding speed on " + run.device() + " (" + run.threads()
                + " thread" + (run.threads() == 1 ? "" : "s") + ")", List.of(text("role"), text("model"), text("ONNX"),
                number("bytes on disk"), number("tokens per second")), List.of(
                model("reference", run.ref(), r.reference()), model("candidate", run.cand(), r.candidate())));
        page.heading("Teacher forcing");
        page.paragraph("Both models read " + (r.textsFromReference() ? "the reference's greedy sequences"
                : String.valueOf(run.textFile())) + " (window " + (r.window() == 0 ? "unlimited" : r.window() + " tokens")
                + ", stride " + r.stride() + "); at each position the next-token distributions are compared: "
                + "KL(P_ref || P_cand) in nats and whether their most likely tokens agree.");
        page.table("Over every position", List.of(text("figure"), number("value")), List.of(
                Row.of("positions", Integer.toString(tf.positions())),
                Row.of("top-1 agreement", figure(tf.agreement()) + " (" + tf.agreeing() + " of " + tf.positions() + ")"),
                Row.of("mean KL", figure(tf.meanKl())),
                Row.of("p99 KL", figure(tf.p99Kl())),
                Row.of("max KL", figure(tf.maxKl())),
                Row.of("perplexity, reference", figure(tf.perplexityReference())),
                Row.of("perplexity, candidate", figure(tf.perplexityCandidate())),
                Row.of("perplexity increase", figure(tf.perplexityIncrease()))));
        page.chart(klCurve(run));
        page.chart(agreement(run));
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < r.texts().size(); i++) {
            ValidationReport.Text t = r.texts().get(i);
            rows.add(Row.of("text " + (i + 1), Integer.toString(t.tokens()), Integer.toString(t.positions()),
                    Integer.toString(t.windows()), figure(t.agreement()), figure(t.meanKl()), figure(t.klMax()),
                    figure(t.perplexityReference()), figure(t.perplexityCandidate())));
        }
        page.table("Each text", List.of(text("text"), number("tokens"), number("positions"), number("windows"),
                number("top-1 agreement"), number("mean KL"), number("max KL"), number("perplexity ref"),
                number("perplexity cand")), rows);
        List<Row> positions = new ArrayList<>();
        for (int i = 0; i < r.texts().size(); i++) {
            ValidationReport.Text t = r.texts().get(i);
            double[] kl = t.kl();
            int[] differ = t.disagreeing();
            for (int p = 0; p < kl.length; p++) {
                positions.add(Row.of("text " + (i + 1), Integer.toString(p), figure(kl[p]),
                        Arrays.binarySearch(differ, p) >= 0 ? "differs" : "same"));
            }
        }
        page.folded("KL at every position (" + positions.size() + " rows)", "KL divergence and top-1 at every position "
                + "(position p predicts the text's token p + 1)", List.of(text("text"), number("position"), number("KL"),
                text("top-1")), positions);
        greedy(page, run);
        return page.render();
    }

    private static void thresholds(HtmlDocument page, ValidationRun run) {
        page.heading("Thresholds");
        if (run.checks().isEmpty()) {
            page.paragraph("None given (--min-agreement, --max-kl, --max-ppl-increase): the run passes.");
            return;
        }
        List<Row> rows = new ArrayList<>();
        for (Thresholds.Check c : run.checks()) {
            rows.add(new Row(List.of(c.figure().label(), ThresholdText.figure(c.value()), c.figure().atLeast() ? ">=" : "<=",
                    ThresholdText.limit(c.limit()), ThresholdText.option(c.figure()), c.passed() ? "PASS" : "FAIL"),
                    c.passed() ? HtmlDocument.Verdict.PASS : HtmlDocument.Verdict.FAIL));
        }
        page.table("Each threshold given, against the measured figure", List.of(text("figure"), number("measured"),
                text("must be"), number("limit"), text("option"), text("result")), rows);
    }

    private static Row model(String role, ModelInput m, ValidationReport.Speed speed) {
        OptionalLong bytes = m.bytesOnDisk();
        return Row.of(role, m.model().toString(), m.directory().equals(m.model()) ? "(itself)" : m.directory().toString(),
                bytes.isPresent() ? bytes.getAsLong() + " (" + ByteSize.format(bytes.getAsLong()) + ")" : "-",
                figure(speed.tokensPerSecond()));
    }

    private static SvgChart klCurve(ValidationRun run) {
        ValidationReport r = run.report();
        SvgChart chart = new SvgChart("KL divergence by position", "KL(P_ref || P_cand) in nats at each teacher-forced "
                + "position of each text (position p predicts token p + 1), with the positions where the two models' top-1 "
                + "tokens differ marked, the mean over all positions and the --max-kl limit on that mean when given.",
                "position in the text", "KL (nats)").integerTicks().zeroBased();
        List<Double> dx = new ArrayList<>();
        List<Double> dy = new ArrayList<>();
        List<String> dl = new ArrayList<>();
        for (int i = 0; i < r.texts().size(); i++) {
            ValidationReport.Text t = r.texts().get(i);
            double[] kl = t.kl();
            chart.add(new SvgChart.Series("text " + (i + 1), IntStream.range(0, kl.length).asDoubleStream().toArray(), kl,
                    null, SvgChart.Style.LINE));
            for (int p : t.disagreeing()) {
                dx.add((double) p);
                dy.add(kl[p]);
                dl.add("text " + (i + 1) + " position " + p);
            }
        }
        chart.add(new SvgChart.Series("top-1 differs", dx.stream().mapToDouble(Double::doubleValue).toArray(),
                dy.stream().mapToDouble(Double::doubleValue).toArray(), dl.toArray(String[]::new), SvgChart.Style.MARKERS));
        chart.add(new SvgChart.Rule("mean KL " + figure(r.teacherForced().meanKl()), r.teacherForced().meanKl()));
        limit(run, Thresholds.Figure.MEAN_KL)
                .ifPresent(l -> chart.add(new SvgChart.Rule("--max-kl " + ThresholdText.limit(l), l)));
        return chart;
    }

    private static SvgChart agreement(ValidationRun run) {
        ValidationReport r = run.report();
        SvgChart chart = new SvgChart("Top-1 agreement by text", "The fraction of teacher-forced positions of each text "
                + "where both models' most likely next token is the same, over all texts, and the --min-agreement limit when "
                + "given.", "text", "top-1 agreement");
        for (int i = 0; i < r.texts().size(); i++) {
            chart.add(new SvgChart.Bar("text " + (i + 1), r.texts().get(i).agreement()));
        }
        chart.add(new SvgChart.Bar("all", r.teacherForced().agreement()));
        limit(run, Thresholds.Figure.TOP1_AGREEMENT)
                .ifPresent(l -> chart.add(new SvgChart.Rule("--min-agreement " + ThresholdText.limit(l), l)));
        return chart;
    }

    private static OptionalDouble limit(ValidationRun run, Thresholds.Figure f) {
        return run.checks().stream().filter(c -> c.figure() == f).mapToDouble(Thresholds.Check::limit).findFirst();
    }

    private static void greedy(HtmlDocument page, ValidationRun run) {
        ValidationReport r = run.report();
        page.heading("Greedy decoding");
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < r.prompts().size(); i++) {
            ValidationReport.Greedy g = r.prompts().get(i);
            String prompt = run.prompts().get(i) != null ? run.prompts().get(i) : TokenIds.format(g.prompt());
            rows.add(Row.of(Integer.toString(i + 1), prompt, Integer.toString(g.reference().length),
                    Integer.toString(g.candidate().length), Integer.toString(g.identicalPrefix()),
                    figure(g.identicalFraction())));
        }
        rows.add(Row.of("all", r.identicalContinuations() + " of " + r.prompts().size() + " continuations identical",
                Integer.toString(r.prompts().stream().mapToInt(g -> g.reference().length).sum()),
                Integer.toString(r.prompts().stream().mapToInt(g -> g.candidate().length).sum()), "",
                figure(r.greedyFraction())));
        page.table("Each prompt continued greedily by both models (at most " + run.maxNewTokens() + " new tokens)",
                List.of(number("#"), text("prompt"), number("reference tokens"), number("candidate tokens"),
                        number("identical prefix"), number("identical fraction")), rows);
        page.paragraph("Speed: candidate " + figure(r.speedRatio()) + "x the reference's tokens per second.");
    }
}
