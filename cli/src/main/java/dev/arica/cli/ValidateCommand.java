package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AtomicOutput;
import dev.arica.formats.Json;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.ExecutionProvider;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import dev.arica.runtime.validate.Thresholds;
import dev.arica.runtime.validate.ValidationReport;
import dev.arica.runtime.validate.Validator;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arica validate}: the release gate, a candidate model measured against a reference with the same tokenizer. */
@Command(name = "validate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"The release gate: a candidate model against a reference with the same tokenizer.",
                "Both continue each prompt greedily; then both read one text (teacher forcing) and",
                "their next-token distributions are compared: top-1 agreement, KL divergence and",
                "perplexity. Decoding speed is measured on the same device. REF and CAND are",
                "anything generate runs: exported directory, HF Llama directory, llama2.c .bin, .arica.",
                "Exit 0 when every threshold given holds, 1 when one fails (named on stderr),",
                "2 on bad input. Figures are defined in docs/validate.md."})
final class ValidateCommand implements Callable<Integer> {

    /** Short story openings any tokenizer encodes (byte fallback covers the rest): the default prompts. */
    static final List<String> DEFAULT_PROMPTS = List.of("Once upon a time", "The little dog", "One day, a girl named Lily",
            "Tom and his mom went to the park", "The sun was shining and");

    @Option(names = "--reference", required = true, paramLabel = "REF",
            description = "The model to compare against: exported ONNX directory, HF Llama directory, llama2.c .bin or "
                    + ".arica file.")
    Path reference;

    @Option(names = "--candidate", required = true, paramLabel = "CAND",
            description = "The model under test, with the same tokenizer as REF.")
    Path candidate;

    @Option(names = "--prompts", paramLabel = "FILE",
            description = "Prompts, one per line, blank lines ignored (default: 5 built-in story openings).")
    Path promptsFile;

    @Option(names = "--text", paramLabel = "FILE",
            description = "Text (UTF-8) both models read teacher-forced (default: the reference's greedy continuations "
                    + "of the prompts, prompt included).")
    Path textFile;

    @Option(names = "--max-new-tokens", defaultValue = "64", paramLabel = "N",
            description = "Most new tokens per prompt in greedy decoding, at least 1 (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--min-agreement", paramLabel = "A",
            description = "Fail unless the teacher-forced top-1 agreement is at least A, in [0, 1].")
    Double minAgreement;

    @Option(names = "--max-kl", paramLabel = "K",
            description = "Fail unless the mean KL(P_ref || P_cand), in nats, is at most K (>= 0).")
    Double maxKl;

    @Option(names = "--max-ppl-increase", paramLabel = "P",
            description = "Fail unless perplexity(CAND) / perplexity(REF) - 1 is at most P (>= 0; 0.05: 5%% worse).")
    Double maxPplIncrease;

    @Option(names = "--json", paramLabel = "FILE",
            description = "Also write the figures as one JSON object to FILE (atomically); '-': print it on stdout "
                    + "instead of the table.")
    String json;

    @Mixin
    RunOptions runOptions;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Thresholds thresholds = thresholds();
        if (maxNewTokens < 1) {
            throw AricaException.badInput("--max-new-tokens must be at least 1, not " + maxNewTokens);
        }
        runOptions.check();
        List<String> prompts = prompts();
        String text = textFile == null ? null : text();
        PrintWriter err = spec.commandLine().getErr();
        try (ModelInput ref = ModelInput.resolve(reference, runOptions.tokenizerFile, runOptions.cache(), runOptions.exportOptions(), err);
             ModelInput cand = ModelInput.resolve(candidate, runOptions.tokenizerFile, runOptions.cache(), runOptions.exportOptions(), err)) {
            sameVocabulary(ref, cand);
            List<int[]> promptIds = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                promptIds.add(sameEncoding(ref, cand, prompts.get(i), "prompt " + (i + 1) + " ('" + prompts.get(i) + "')"));
            }
            int[] textIds = text == null ? null : textIds(ref, cand, text);
            int intraOp = runOptions.intraOpThreads();
            try (InferenceSession refSession = InferenceSession.open(ref.onnxFile(), ref.sessionOptions(runOptions.device, intraOp));
                 OnnxDecoder refDecoder = new OnnxDecoder(refSession, ref.config());
                 // The candidate gets the device the reference got, so that their speeds compare.
                 InferenceSession candSession = InferenceSession.open(cand.onnxFile(), cand.sessionOptions(
                         refSession.provider() == ExecutionProvider.CUDA ? Device.CUDA : Device.CPU, intraOp));
                 OnnxDecoder candDecoder = new OnnxDecoder(candSession, cand.config())) {
                String deviceName = refSession.provider().name().toLowerCase(Locale.ROOT);
                err.println("arica: device " + deviceName
                        + (refSession.providerNote().isEmpty() ? "" : " (CUDA: " + refSession.providerNote() + ")"));
                err.flush();
                Validator validator = new Validator(refDecoder, candDecoder,
                        new Validator.Settings(maxNewTokens, ref.config().eosTokenIds()));
                ValidationReport report = textIds == null ? validator.validate(promptIds)
                        : validator.validate(promptIds, List.<int[]>of(textIds));
                List<Thresholds.Check> checks = thresholds.apply(report);
                Run run = new Run(ref, cand, prompts, deviceName, intraOp, report, checks);
                return report(run);
            }
        }
    }

    /** Everything the table and the JSON object show. */
    private record Run(ModelInput ref, ModelInput cand, List<String> prompts, String device, int threads,
                       ValidationReport report, List<Thresholds.Check> checks) {
        boolean passed() {
            return checks.stream().allMatch(Thresholds.Check::passed);
        }
    }

    private Thresholds thresholds() {
        if (minAgreement != null && !(minAgreement >= 0 && minAgreement <= 1)) {
            throw AricaException.badInput("--min-agreement must be a number in [0, 1], not " + minAgreement);
        }
        nonNegative("--max-kl", maxKl);
        nonNegative("--max-ppl-increase", maxPplIncrease);
        return new Thresholds(optional(minAgreement), optional(maxKl), optional(maxPplIncrease));
    }

    private static void nonNegative(String option, Double v) {
        if (v != null && !(v >= 0 && v < Double.POSITIVE_INFINITY)) {
            throw AricaException.badInput(option + " must be a finite number >= 0, not " + v);
        }
    }

    private static OptionalDouble optional(Double v) {
        return v == null ? OptionalDouble.empty() : OptionalDouble.of(v);
    }

    private List<String> prompts() throws IOException {
        if (promptsFile == null) {
            return DEFAULT_PROMPTS;
        }
        List<String> out = readUtf8(promptsFile, "--prompts").lines().filter(l -> !l.isBlank()).toList();
        if (out.isEmpty()) {
            throw AricaException.badInput(promptsFile + ": no prompts (every line is blank); give one prompt per line");
        }
        return out;
    }

    private String text() throws IOException {
        String t = readUtf8(textFile, "--text");
        if (t.isBlank()) {
            throw AricaException.badInput(textFile + ": the text is empty; give some text to read, or leave out --text");
        }
        return t;
    }

    private static String readUtf8(Path file, String option) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw AricaException.badInput(file + ": no such file (" + option + ")");
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw AricaException.badInput(file + ": not UTF-8 text (" + option + ")");
        }
    }

    /** Refuses two models whose vocabularies differ: in size, or in any entry of their tokenizers. */
    private void sameVocabulary(ModelInput ref, ModelInput cand) {
        int a = ref.config().vocabSize();
        int b = cand.config().vocabSize();
        if (a != b) {
            throw AricaException.badInput("REF and CAND do not share a vocabulary: " + reference + " has " + a + " tokens, "
                    + candidate + " " + b + " (vocab_size of their arica-genai.json); validate compares models with the same tokenizer");
        }
        Tokenizer x = ref.tokenizer();
        Tokenizer y = cand.tokenizer();
        if (x.vocabSize() != y.vocabSize()) {
            throw AricaException.badInput("the tokenizers of REF and CAND differ: " + x.vocabSize() + " against " + y.vocabSize()
                    + " entries; validate compares models with the same tokenizer");
        }
        for (int id = 0; id < x.vocabSize(); id++) {
            if (!Arrays.equals(x.tokenBytes(id), y.tokenBytes(id))) {
                throw AricaException.badInput("the tokenizers of REF and CAND differ at id " + id + " (" + piece(x.tokenBytes(id))
                        + " against " + piece(y.tokenBytes(id)) + "); validate compares models with the same tokenizer");
            }
        }
    }

    private static String piece(byte[] bytes) {
        String s = new String(bytes, StandardCharsets.UTF_8);
        return "'" + s.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append) + "'";
    }

    /** The ids of {@code prompt}, which both tokenizers must give alike (same table, other merges would not). */
    private static int[] sameEncoding(ModelInput ref, ModelInput cand, String prompt, String what) {
        int[] a = ref.encode(prompt);
        int[] b = cand.encode(prompt);
        if (!Arrays.equals(a, b)) {
            throw AricaException.badInput("the tokenizers of REF and CAND encode " + what + " differently; validate compares "
                    + "models with the same tokenizer");
        }
        return a;
    }

    private int[] textIds(ModelInput ref, ModelInput cand, String text) {
        int[] a = ref.tokenizer().encode(text, true);
        if (!Arrays.equals(a, cand.tokenizer().encode(text, true))) {
            throw AricaException.badInput("the tokenizers of REF and CAND encode " + textFile + " differently; validate "
                    + "compares models with the same tokenizer");
        }
        if (a.length < 2) {
            throw AricaException.badInput(textFile + ": the text is " + a.length + " token(s); at least 2 are needed");
        }
        for (int id : a) {
            if (id >= ref.config().vocabSize()) {
                throw AricaException.badInput(textFile + ": the tokenizer gives id " + id + ", outside the models' vocabulary of "
                        + ref.config().vocabSize());
            }
        }
        return a;
    }

    // ---- output ----

    private int report(Run run) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        ObjectNode o = json(run);
        if ("-".equals(json)) {
            out.println(Json.MAPPER.writeValueAsString(o));
        } else {
            table(run, out);
            if (json != null) {
                AtomicOutput.writeString(Path.of(json), Json.MAPPER.writeValueAsString(o) + "\n");
            }
        }
        out.flush();
        List<String> failed = run.checks().stream().filter(c -> !c.passed()).map(ValidateCommand::failure).toList();
        if (!failed.isEmpty()) {
            throw new AricaException(ExitCode.FAILED, "validate failed: " + String.join("; ", failed));
        }
        return ExitCode.OK;
    }

    static String option(Thresholds.Figure f) {
        return switch (f) {
            case TOP1_AGREEMENT -> "--min-agreement";
            case MEAN_KL -> "--max-kl";
            case PERPLEXITY_INCREASE -> "--max-ppl-increase";
        };
    }

    /** "top-1 agreement 0.9120 < --min-agreement 0.98". */
    private static String failure(Thresholds.Check c) {
        String op = c.figure().atLeast() ? (c.value() < c.limit() ? "<" : "is not >=") : (c.value() > c.limit() ? ">" : "is not <=");
        return c.figure().label() + " " + figure(c.value()) + " " + op + " " + option(c.figure()) + " " + limit(c.limit());
    }

    /** Four significant digits: 0.9120, 1.235e-05. */
    static String figure(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : Double.toString(v);
    }

    /** A limit as the user would write it: 0.98, 0.001. */
    private static String limit(double v) {
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    private static String rate(double perSecond) {
        return Double.isFinite(perSecond) ? String.format(Locale.ROOT, "%.1f", perSecond) : "-";
    }

    private static String shorten(String s, int most) {
        String one = s.replaceAll("\\s", " ");
        return one.length() <= most ? one : one.substring(0, most - 3) + "...";
    }

    private void table(Run run, PrintWriter out) {
        ValidationReport r = run.report();
        out.printf(Locale.ROOT, "reference  %s%s%n", reference, exportedAs(run.ref()));
        out.printf(Locale.ROOT, "candidate  %s%s%n", candidate, exportedAs(run.cand()));
        out.printf(Locale.ROOT, "device     %s, %d thread%s; vocabulary %d tokens%n", run.device(), run.threads(),
                run.threads() == 1 ? "" : "s", run.ref().config().vocabSize());
        out.println();
        out.printf(Locale.ROOT, "greedy decoding: at most %d new tokens, stop ids %s%n", maxNewTokens,
                Arrays.stream(run.ref().config().eosTokenIds()).mapToObj(Integer::toString).collect(Collectors.joining(", ")));
        out.printf(Locale.ROOT, "  %-3s %-34s %6s %6s %7s %10s%n", "#", "prompt", "ref", "cand", "prefix", "identical");
        for (int i = 0; i < r.prompts().size(); i++) {
            ValidationReport.Greedy g = r.prompts().get(i);
            out.printf(Locale.ROOT, "  %-3d %-34s %6d %6d %7d %10.4f%n", i + 1, shorten(run.prompts().get(i), 34),
                    g.reference().length, g.candidate().length, g.identicalPrefix(), g.identicalFraction());
        }
        out.printf(Locale.ROOT, "  %-38s %6d %6d %7s %10.4f   %d of %d continuations identical%n", "all",
                r.prompts().stream().mapToInt(g -> g.reference().length).sum(),
                r.prompts().stream().mapToInt(g -> g.candidate().length).sum(), "", r.greedyFraction(),
                r.identicalContinuations(), r.prompts().size());
        out.println();
        out.printf(Locale.ROOT, "teacher forcing on %s: window %s, stride %d%n",
                r.textsFromReference() ? "the reference's greedy sequences" : textFile.toString(),
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
            out.printf(Locale.ROOT, "  %-20s %10s %s %-8s %-20s %s%n", c.figure().label(), figure(c.value()),
                    c.figure().atLeast() ? ">=" : "<=", limit(c.limit()), "(" + option(c.figure()) + ")",
                    c.passed() ? "PASS" : "FAIL");
        }
        out.println("result: " + (run.passed() ? "PASS" : "FAIL"));
    }

    private static String exportedAs(ModelInput m) {
        return m.directory().equals(m.model()) ? "" : " (ONNX: " + m.directory() + ")";
    }

    private ObjectNode json(Run run) {
        ValidationReport r = run.report();
        ObjectNode o = Json.MAPPER.createObjectNode();
        model(o.putObject("reference"), run.ref(), r.reference());
        model(o.putObject("candidate"), run.cand(), r.candidate());
        o.put("device", run.device());
        o.put("threads", run.threads());
        o.put("vocab_size", run.ref().config().vocabSize());
        ObjectNode greedy = o.putObject("greedy");
        greedy.put("max_new_tokens", maxNewTokens);
        ints(greedy.putArray("stop_ids"), run.ref().config().eosTokenIds());
        ArrayNode prompts = greedy.putArray("prompts");
        for (int i = 0; i < r.prompts().size(); i++) {
            ValidationReport.Greedy g = r.prompts().get(i);
            ObjectNode p = prompts.addObject();
            p.put("prompt", run.prompts().get(i));
            ints(p.putArray("prompt_ids"), g.prompt());
            ints(p.putArray("reference_ids"), g.reference());
            ints(p.putArray("candidate_ids"), g.candidate());
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
            tf.put("text_file", textFile.toString());
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
            t.put("option", option(c.figure()));
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
        ints(o.putArray("eos_token_ids"), m.config().eosTokenIds());
        o.put("context_length", m.config().contextLength());
        o.put("decode_tokens", speed.tokens());
        o.put("decode_seconds", speed.nanos() / 1e9);
        number(o, "tokens_per_second", speed.tokensPerSecond());
    }

    private static void ints(ArrayNode a, int[] values) {
        for (int v : values) {
            a.add(v);
        }
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
