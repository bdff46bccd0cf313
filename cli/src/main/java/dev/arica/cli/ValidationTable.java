package dev.arica.cli;

import dev.arica.runtime.validate.Thresholds;
import dev.arica.runtime.validate.ValidationReport;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The table {@code arica validate} prints: models, greedy rows per prompt, teacher-forced rows per text, speed, thresholds. */
final class ValidationTable {
    private ValidationTable() {}

    static void print(ValidationRun run, PrintWriter out) {
        ValidationReport r = run.report();
        out.printf(Locale.ROOT, "reference  %s%s%n", run.ref().model(), exportedAs(run.ref()));
        out.printf(Locale.ROOT, "candidate  %s%s%n", run.cand().model(), exportedAs(run.cand()));
        out.printf(Locale.ROOT, "device     %s, %d thread%s; vocabulary %d tokens%n", run.device(), run.threads(),
                run.threads() == 1 ? "" : "s", run.ref().config().vocabSize());
        out.println();
        out.printf(Locale.ROOT, "greedy decoding: at most %d new tokens, stop ids %s%n", run.maxNewTokens(),
                Arrays.stream(run.ref().config().eosTokenIds()).mapToObj(Integer::toString).collect(Collectors.joining(", ")));
        out.printf(Locale.ROOT, "  %-3s %-34s %6s %6s %7s %10s%n", "#", "prompt", "ref", "cand", "prefix", "identical");
        for (int i = 0; i < r.prompts().size(); i++) {
            ValidationReport.Greedy g = r.prompts().get(i);
            String prompt = run.prompts().get(i) != null ? run.prompts().get(i) : TokenIds.format(g.prompt());
            out.printf(Locale.ROOT, "  %-3d %-34s %6d %6d %7d %10.4f%n", i + 1, shorten(prompt, 34),
                    g.reference().length, g.candidate().length, g.identicalPrefix(), g.identicalFraction());
        }
        out.printf(Locale.ROOT, "  %-38s %6d %6d %7s %10.4f   %d of %d continuations identical%n", "all",
                r.prompts().stream().mapToInt(g -> g.reference().length).sum(),
                r.prompts().stream().mapToInt(g -> g.candidate().length).sum(), "", r.greedyFraction(),
                r.identicalContinuations(), r.prompts().size());
        out.println();
        out.printf(Locale.ROOT, "teacher forcing on %s: window %s, stride %d%n",
                r.textsFromReference() ? "the reference's greedy sequences" : run.textFile().toString(),
                r.window() == 0 ? "unlimited" : r.window() + " tokens", r.stride());
        out.printf(Locale.ROOT, "  %-5s %7s %9s %7s %11s %11s %11s %11s%n", "#", "tokens", "positions", "top-1", "mean KL",
                "max KL", "ppl ref", "ppl cand");
        for (int i = 0; i < r.texts().size(); i++) {
            ValidationReport.Text t = r.texts().get(i);
            out.printf(Locale.ROOT, "  %-5d %7d %9d %7.4f %11.4e %11.4e %11.4f %11.4f%n", i + 1, t.tokens(), t.positions(),
                    t.agreement(), t.meanKl(), t.klMax(), t.perplexityReference(), t.perplexityCandidate());
        }
        ValidationReport.TeacherForced tf = r.teacherForced();
        out.printf(Locale.ROOT, "  %-5s %7d %9d %7.4f %11.4e %11.4e %11.4f %11.4f%n", "all",
                r.texts().stream().mapToInt(ValidationReport.Text::tokens).sum(), tf.positions(), tf.agreement(), tf.meanKl(),
                tf.maxKl(), tf.perplexityReference(), tf.perplexityCandidate());
        out.printf(Locale.ROOT, "  top-1 agreement %.4f, mean KL %.4e, p99 KL %.4e, perplexity increase %+.4f (%+.2f%%)%n",
                tf.agreement(), tf.meanKl(), tf.p99Kl(), tf.perplexityIncrease(), 100 * tf.perplexityIncrease());
        out.println();
        out.printf(Locale.ROOT, "speed (greedy decoding, tokens per second): reference %s, candidate %s (%sx)%n",
                rate(r.reference().tokensPerSecond()), rate(r.candidate().tokensPerSecond()),
                Double.isFinite(r.speedRatio()) ? String.format(Locale.ROOT, "%.2f", r.speedRatio()) : "-");
        out.println();
        if (run.checks().isEmpty()) {
            out.println("thresholds: none given (--min-agreement, --max-kl, --max-ppl-increase)");
            out.println("result: PASS");
            return;
        }
        out.println("thresholds");
        for (Thresholds.Check c : run.checks()) {
            out.printf(Locale.ROOT, "  %-20s %10s %s %-8s %-20s %s%n", c.figure().label(), ThresholdText.figure(c.value()),
                    c.figure().atLeast() ? ">=" : "<=", ThresholdText.limit(c.limit()),
                    "(" + ThresholdText.option(c.figure()) + ")", c.passed() ? "PASS" : "FAIL");
        }
        out.println("result: " + (run.passed() ? "PASS" : "FAIL"));
    }

    private static String exportedAs(ModelInput m) {
        return m.directory().equals(m.model()) ? "" : " (ONNX: " + m.directory() + ")";
    }

    private static String rate(double perSecond) {
        return Double.isFinite(perSecond) ? String.format(Locale.ROOT, "%.1f", perSecond) : "-";
    }

    private static String shorten(String s, int most) {
        String one = s.replaceAll("\\s", " ");
        return one.length() <= most ? one : one.substring(0, most - 3) + "...";
    }
}
