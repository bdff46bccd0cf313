package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import dev.arica.runtime.validate.Thresholds;
import dev.arica.runtime.validate.ValidationReport;

/** The JSON object of {@code arica validate --json}: every figure of the table, keys as docs/validate.md defines them. */
final class ValidationJson {
    private ValidationJson() {}

    static ObjectNode of(ValidationRun run) {
        ValidationReport r = run.report();
        ObjectNode o = Json.MAPPER.createObjectNode();
        model(o.putObject("reference"), run.ref(), r.reference());
        model(o.putObject("candidate"), run.cand(), r.candidate());
        o.put("device", run.device());
        o.put("threads", run.threads());
        o.put("vocab_size", run.ref().config().vocabSize());
        ObjectNode greedy = o.putObject("greedy");
        greedy.put("max_new_tokens", run.maxNewTokens());
        TokenIds.add(greedy.putArray("stop_ids"), run.ref().config().eosTokenIds());
        ArrayNode prompts = greedy.putArray("prompts");
        for (int i = 0; i < r.prompts().size(); i++) {
            ValidationReport.Greedy g = r.prompts().get(i);
            ObjectNode p = prompts.addObject();
            p.put("prompt", run.prompts().get(i));
            TokenIds.add(p.putArray("prompt_ids"), g.prompt());
            TokenIds.add(p.putArray("reference_ids"), g.reference());
            TokenIds.add(p.putArray("candidate_ids"), g.candidate());
            p.put("identical_prefix", g.identicalPrefix());
            p.put("compared", g.compared());
            p.put("identical", g.identical());
            number(p, "identical_fraction", g.identicalFraction());
        }
        greedy.put("compared", r.greedyCompared());
        greedy.put("identical", r.greedyIdentical());
        number(greedy, "identical_fraction", r.greedyFraction());
        greedy.put("identical_continuations", r.identicalContinuations());
        ObjectNode tf = o.putObject("teacher_forced");
        tf.put("source", r.textsFromReference() ? "reference_greedy" : "file");
        if (r.textsFromReference()) {
            tf.putNull("text_file");
        } else {
            tf.put("text_file", run.textFile().toString());
        }
        tf.put("window", r.window());
        tf.put("stride", r.stride());
        ArrayNode texts = tf.putArray("texts");
        for (ValidationReport.Text t : r.texts()) {
            ObjectNode x = texts.addObject();
            x.put("tokens", t.tokens());
            x.put("positions", t.positions());
            x.put("windows", t.windows());
            number(x, "top1_agreement", t.agreement());
            number(x, "mean_kl", t.meanKl());
            number(x, "max_kl", t.klMax());
            number(x, "perplexity_reference", t.perplexityReference());
            number(x, "perplexity_candidate", t.perplexityCandidate());
        }
        ValidationReport.TeacherForced s = r.teacherForced();
        tf.put("positions", s.positions());
        tf.put("agreeing", s.agreeing());
        number(tf, "top1_agreement", s.agreement());
        number(tf, "mean_kl", s.meanKl());
        number(tf, "p99_kl", s.p99Kl());
        number(tf, "max_kl", s.maxKl());
        number(tf, "perplexity_reference", s.perplexityReference());
        number(tf, "perplexity_candidate", s.perplexityCandidate());
        number(tf, "perplexity_increase", s.perplexityIncrease());
        number(o, "speed_ratio", r.speedRatio());
        ArrayNode thresholds = o.putArray("thresholds");
        for (Thresholds.Check c : run.checks()) {
            ObjectNode t = thresholds.addObject();
            t.put("figure", c.figure().label());
            t.put("option", ThresholdText.option(c.figure()));
            t.put("bound", c.figure().atLeast() ? "min" : "max");
            t.put("limit", c.limit());
            number(t, "value", c.value());
            t.put("pass", c.passed());
        }
        o.put("pass", run.passed());
        return o;
    }

    private static void model(ObjectNode o, ModelInput m, ValidationReport.Speed speed) {
        o.put("model", m.model().toString());
        o.put("onnx_directory", m.directory().toString());
        TokenIds.add(o.putArray("eos_token_ids"), m.config().eosTokenIds());
        o.put("context_length", m.config().contextLength());
        o.put("decode_tokens", speed.tokens());
        o.put("decode_seconds", speed.nanos() / 1e9);
        number(o, "tokens_per_second", speed.tokensPerSecond());
    }

    /** A number, or null where it is not finite (JSON has no NaN or infinity). */
    private static void number(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, v);
        } else {
            o.putNull(key);
        }
    }
}
