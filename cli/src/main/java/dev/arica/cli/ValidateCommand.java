package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.cli.report.HtmlDocument;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.runtime.encode.OnnxEncoder;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.ExecutionProvider;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Encoding;
import dev.arica.runtime.tokenizer.Tokenizer;
import dev.arica.runtime.validate.EncoderValidator;
import dev.arica.runtime.validate.Thresholds;
import dev.arica.runtime.validate.ValidationReport;
import dev.arica.runtime.validate.Validator;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arica validate}: the release gate, a candidate model measured against a reference with the same tokenizer. */
@Command(name = "validate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"The release gate: a candidate model against a reference with the same tokenizer.",
                "Both continue each prompt greedily; then both read one text (teacher forcing) and",
                "their next-token distributions are compared: top-1 agreement, KL divergence and",
                "perplexity. Decoding speed is measured on the same device. REF and CAND are",
                "anything generate runs: exported directory, HF Llama directory, llama2.c .bin, .gguf, .arica.",
                "Prompts may be given as token ids (--ids), for models without a tokenizer.",
                "Exit 0 when every threshold given holds, 1 when one fails (named on stderr),",
                "2 on bad input. Figures are defined in docs/validate.md."})
final class ValidateCommand implements Callable<Integer> {

    /** Short story openings any tokenizer encodes (byte fallback covers the rest): the default prompts. */
    static final List<String> DEFAULT_PROMPTS = List.of("Once upon a time", "The little dog", "One day, a girl named Lily",
            "Tom and his mom went to the park", "The sun was shining and");

    @Option(names = "--reference", required = true, paramLabel = "REF",
            description = "The model to compare against: exported ONNX directory, HF Llama directory, llama2.c .bin, "
                    + "GGUF or .arica file.")
    Path reference;

    @Option(names = "--candidate", required = true, paramLabel = "CAND",
            description = "The model under test, with the same tokenizer as REF.")
    Path candidate;

    @Option(names = "--prompts", paramLabel = "FILE",
            description = "Prompts, one per line, blank lines ignored (default: 5 built-in story openings).")
    Path promptsFile;

    @Option(names = "--ids", paramLabel = "LIST",
            description = "A prompt as token ids separated by commas, e.g. 1,403,407, used as they are (no "
                    + "beginning-of-sequence id added); repeatable, one prompt each, instead of text prompts. Models "
                    + "without a tokenizer need it (and no --text).")
    List<String> ids;

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

    @Option(names = "--min-cosine", paramLabel = "C",
            description = "Encoders: fail unless the cosine of the candidate's sentence embedding (mean pooled) to the "
                    + "reference's is at least C on every text, in [-1, 1].")
    Double minCosine;

    @Option(names = "--json", paramLabel = "FILE",
            description = "Also write the figures as one JSON object to FILE (atomically); '-': print it on stdout "
                    + "instead of the table.")
    String json;

    @Option(names = "--report", paramLabel = "FILE.html",
            description = "Also write the figures as one self-contained HTML page with charts (the KL at every position, "
                    + "the top-1 agreement, the thresholds) to FILE.html (atomically; decoders).")
    Path htmlReport;

    @Mixin
    RunOptions runOptions;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (htmlReport != null && !HtmlDocument.isHtmlName(htmlReport)) {
            throw AricaException.badInput("--report writes an HTML page: name it FILE.html, not " + htmlReport
                    + " (the JSON object is --json FILE)");
        }
        if (EncoderInput.applies(reference)) {
            if (htmlReport != null) {
                throw AricaException.badInput("--report applies to decoders; " + reference + " is an encoder (its figures: "
                        + "--json FILE)");
            }
            return encoders();
        }
        if (minCosine != null) {
            throw AricaException.badInput("--min-cosine applies to encoders; " + reference + " is a decoder");
        }
        Thresholds thresholds = thresholds();
        if (maxNewTokens < 1) {
            throw AricaException.badInput("--max-new-tokens must be at least 1, not " + maxNewTokens);
        }
        runOptions.check();
        if (ids != null && promptsFile != null) {
            throw AricaException.badInput("--ids and --prompts exclude each other: give the prompts as ids or as text");
        }
        List<int[]> givenIds = ids == null ? null : ids.stream().map(v -> TokenIds.parse("--ids", v)).toList();
        List<String> prompts = givenIds == null ? prompts() : null;
        String text = textFile == null ? null : text();
        PrintWriter err = spec.commandLine().getErr();
        boolean needsTokenizer = givenIds == null || text != null;
        try (ModelInput ref = runOptions.resolve(reference, needsTokenizer, err);
             ModelInput cand = runOptions.resolve(candidate, needsTokenizer, err)) {
            sameVocabulary(ref, cand);
            List<int[]> promptIds = givenIds == null ? encode(ref, cand, prompts) : checked(ref, cand, givenIds);
            List<String> promptTexts = givenIds == null ? prompts : Collections.nCopies(givenIds.size(), null);
            int[] textIds = text == null ? null : textIds(ref, cand, text);
            try (OnnxDecoder refDecoder = runOptions.decoder(ref, runOptions.device);
                 // The candidate gets the device the reference got, so that their speeds compare.
                 OnnxDecoder candDecoder = runOptions.decoder(cand,
                         refDecoder.session().provider() == ExecutionProvider.CUDA ? Device.CUDA : Device.CPU)) {
                RunOptions.printDevice(refDecoder.session(), err);
                Validator validator = new Validator(refDecoder, candDecoder,
                        new Validator.Settings(maxNewTokens, ref.config().eosTokenIds()));
                ValidationReport report = textIds == null ? validator.validate(promptIds)
                        : validator.validate(promptIds, List.<int[]>of(textIds));
                return report(new ValidationRun(ref, cand, promptTexts, maxNewTokens, textFile,
                        RunOptions.deviceName(refDecoder.session()), runOptions.intraOpThreads(), report, thresholds.apply(report)));
            }
        }
    }

    /** Encoder against encoder: embedding cosines and, with masked-LM heads, top-1 agreement and KL per position. */
    private int encoders() throws IOException {
        runOptions.check();
        if (minCosine != null && !(minCosine >= -1 && minCosine <= 1)) {
            throw AricaException.badInput("--min-cosine must be in [-1, 1], not " + minCosine);
        }
        if (textFile != null || maxPplIncrease != null) {
            throw AricaException.badInput("--text and --max-ppl-increase apply to decoders; " + reference + " is an encoder");
        }
        PrintWriter err = spec.commandLine().getErr();
        try (EncoderInput ref = EncoderInput.resolve(reference, runOptions.tokenizerFile, runOptions.cache(),
                runOptions.exportOptions(), err);
             EncoderInput cand = EncoderInput.resolve(candidate, runOptions.tokenizerFile, runOptions.cache(),
                     runOptions.exportOptions(), err);
             OnnxEncoder r = OnnxEncoder.open(ref.onnx(), new InferenceSession.Options(runOptions.device, runOptions.intraOpThreads(), 0));
             OnnxEncoder c = OnnxEncoder.open(cand.onnx(), new InferenceSession.Options(
                     r.session().provider() == ExecutionProvider.CUDA ? Device.CUDA : Device.CPU, runOptions.intraOpThreads(), 0))) {
            RunOptions.printDevice(r.session(), err);
            List<EncoderValidator.Text> texts = new ArrayList<>();
            if (ids != null) {
                for (String v : ids) {
                    texts.add(new EncoderValidator.Text(Arrays.stream(TokenIds.parse("--ids", v)).asLongStream().toArray(),
                            null));
                }
            } else {
                Tokenizer t = ref.tokenizer().orElseThrow(() -> AricaException.badInput(reference + ": no tokenizer; give "
                        + "--tokenizer FILE or the texts as --ids"));
                for (String p : prompts()) {
                    Encoding e = t.encode(p, null, true);
                    texts.add(new EncoderValidator.Text(Arrays.stream(e.ids()).asLongStream().toArray(),
                            Arrays.stream(e.typeIds()).asLongStream().toArray()));
                }
            }
            EncoderValidator.Report report = EncoderValidator.validate(r, c, texts);
            if (!report.hasHead() && (minAgreement != null || maxKl != null)) {
                throw AricaException.badInput("--min-agreement and --max-kl compare masked-LM heads, which "
                        + (r.hasLogits() ? candidate : reference) + " does not have");
            }
            List<String> failed = new ArrayList<>();
            if (minCosine != null && report.minCosine() < minCosine) {
                failed.add(String.format(Locale.ROOT, "minimum cosine %.6f < %s (--min-cosine)", report.minCosine(), minCosine));
            }
            if (minAgreement != null && report.agreement() < minAgreement) {
                failed.add(String.format(Locale.ROOT, "top-1 agreement %.4f < %s (--min-agreement)", report.agreement(), minAgreement));
            }
            if (maxKl != null && report.meanKl() > maxKl) {
                failed.add(String.format(Locale.ROOT, "mean KL %.4e > %s (--max-kl)", report.meanKl(), maxKl));
            }
            EncoderValidation.print(spec.commandLine().getOut(), json, reference, candidate, report, failed);
            if (!failed.isEmpty()) {
                throw new AricaException(ExitCode.FAILED, "validate failed: " + String.join("; ", failed));
            }
            return ExitCode.OK;
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

    /** Refuses two models whose vocabularies differ: in size, or in any entry of their tokenizers when both have one. */
    private void sameVocabulary(ModelInput ref, ModelInput cand) {
        int a = ref.config().vocabSize();
        int b = cand.config().vocabSize();
        if (a != b) {
            throw AricaException.badInput("REF and CAND do not share a vocabulary: " + reference + " has " + a + " tokens, "
                    + candidate + " " + b + " (vocab_size of their arica-genai.json); validate compares models with the same tokenizer");
        }
        if (ref.tokenizer().isEmpty() || cand.tokenizer().isEmpty()) {
            return;
        }
        Tokenizer x = ref.tokenizer().get();
        Tokenizer y = cand.tokenizer().get();
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

    /** The ids of each prompt, which both tokenizers must give alike. */
    private static List<int[]> encode(ModelInput ref, ModelInput cand, List<String> prompts) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            out.add(sameEncoding(ref, cand, prompts.get(i), "prompt " + (i + 1) + " ('" + prompts.get(i) + "')"));
        }
        return out;
    }

    /** Prompts given as ids, each checked against both models (same vocabulary, maybe different contexts). */
    private static List<int[]> checked(ModelInput ref, ModelInput cand, List<int[]> prompts) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            String option = "--ids (prompt " + (i + 1) + ")";
            out.add(TokenIds.check(option, TokenIds.check(option, prompts.get(i), ref.config()), cand.config()));
        }
        return out;
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
        int[] a = ref.tokenizer().orElseThrow().encode(text, true);
        if (!Arrays.equals(a, cand.tokenizer().orElseThrow().encode(text, true))) {
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

    private int report(ValidationRun run) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        ObjectNode o = ValidationJson.of(run);
        if ("-".equals(json)) {
            out.println(Json.MAPPER.writeValueAsString(o));
        } else {
            ValidationTable.print(run, out);
            if (json != null) {
                AtomicOutput.writeString(Path.of(json), Json.MAPPER.writeValueAsString(o) + "\n");
            }
        }
        if (htmlReport != null) {
            AtomicOutput.writeString(htmlReport, ValidationHtml.of(run));
        }
        out.flush();
        List<String> failed = run.checks().stream().filter(c -> !c.passed()).map(ThresholdText::failure).toList();
        if (!failed.isEmpty()) {
            throw new AricaException(ExitCode.FAILED, "validate failed: " + String.join("; ", failed));
        }
        return ExitCode.OK;
    }
}
