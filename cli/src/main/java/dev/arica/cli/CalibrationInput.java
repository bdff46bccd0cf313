package dev.arica.cli;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.EndToEndTuning;
import dev.arica.quantize.Method;
import dev.arica.quantize.tune.ScaleTuner;
import dev.arica.runtime.calibrate.LayerInputs;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.PrintWriter;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The calibration of {@code quantize --method search|gptq}: the checkpoint exported as a float graph with its
 * projections' inputs as outputs (into a temporary directory), run on the CPU over the calibration text tokenized by
 * the model's tokenizer, the inputs spilled to temporary files ({@link LayerInputs}).
 */
final class CalibrationInput {
    /** Default of --calibration-tokens. */
    static final int DEFAULT_TOKENS = 2048;
    /** Most positions run from one empty cache. */
    static final int WINDOW = 512;
    /** Default of --tune-samples. */
    static final int DEFAULT_SAMPLES = 256;
    /** Most tokens of one sequence sampled for tuning, the beginning-of-sequence token included. */
    static final int SAMPLE_TOKENS = 128;
    /** The seed of the sampling, so that a command makes the same file each time. */
    static final long SAMPLE_SEED = 1;
    /** Families whose graphs carry their projections' inputs. */
    static final String SUPPORTED = "decoder checkpoints in float (Llama, Mistral, Gemma-2, GPT-2, Falcon)";

    private CalibrationInput() {}

    /**
     * Refuses, in one line, a checkpoint that cannot be calibrated: a GPTQ checkpoint or a file that stores
     * quantized blocks (calibration needs the float weights), a model that is not a decoder.
     */
    static void checkSupported(Checkpoint in, Path input, Method method) {
        String why = null;
        if (in instanceof GptqCheckpoint) {
            why = "a GPTQ checkpoint, already quantized";
        } else if (in instanceof QuantizedCheckpoint q && in.tensors().stream()
                .anyMatch(t -> q.quantizedStorage(t.name()).isPresent())) {
            why = "already quantized (it stores quantized blocks)";
        } else {
            try {
                ModelDescription d = ModelDescription.of(in, "calibration");
                if (!(d.config() instanceof DecoderConfig)) {
                    why = "a " + d.family().id() + " model, not a decoder";
                }
            } catch (IOException | RuntimeException e) {
                why = "not a model arica describes (" + e.getMessage() + ")";
            }
        }
        if (why != null) {
            throw AricaException.badInput("--method " + method.id + ": " + input + " is " + why + "; calibration "
                    + "supports " + SUPPORTED);
        }
    }

    /**
     * Refuses, in one line, a checkpoint that end-to-end tuning does not compute (or hold in memory), or whose samples
     * have no beginning-of-sequence token to start from.
     */
    static void checkTunable(Checkpoint in, Path input) throws IOException {
        String why = EndToEndTuning.unsupported(in);
        if (why != null) {
            throw AricaException.badInput("--tune-steps: " + input + " is " + why);
        }
        if (ModelDescription.of(in, "end-to-end tuning").decoder().bosTokenId() == null) {
            throw AricaException.badInput("--tune-steps: " + input + " names no beginning-of-sequence token (bos_token_id) "
                    + "to sample the tuning text from");
        }
    }

    /** What calibration gives: the layers' input statistics and the sequences sampled for tuning (maybe none). */
    record Collected(LayerInputs inputs, List<int[]> samples) {}

    /**
     * Collects the statistics of {@code input}'s linear layers on {@code text} (null: the built-in text), at most
     * {@code tokens} tokens, and samples {@code samples} sequences from the float model (temperature 1, from the
     * beginning-of-sequence token, seeded); a line on {@code err} says what was measured.
     */
    static Collected collect(Path input, Path tokenizerFile, Path textFile, int tokens, int samples, Method method,
            int threads, PrintWriter err) throws IOException {
        String text;
        String source;
        if (textFile == null) {
            text = LayerInputs.builtInText();
            source = "the built-in English text";
        } else {
            try {
                text = Files.readString(textFile);
            } catch (MalformedInputException e) {
                throw AricaException.badInput("--calibration: " + textFile + " is not UTF-8 text");
            } catch (IOException e) {
                throw AricaException.badInput("--calibration: cannot read " + textFile + ": " + e.getMessage());
            }
            source = textFile.getFileName().toString();
        }
        long start = System.nanoTime();
        try (ModelInput model = ModelInput.resolve(input, tokenizerFile, true, new ModelInput.CacheChoice(null, true),
                OnnxExporter.Options.defaults().withLinearInputs(true), err)) {
            Tokenizer tokenizer = model.tokenizer().orElseThrow();
            int[] ids = tokenizer.encode(text, true);
            if (ids.length < 2) {
                throw AricaException.badInput("--calibration: " + source + " gives " + ids.length + " tokens; give some text");
            }
            ids = Arrays.copyOf(ids, Math.min(ids.length, tokens));
            for (int id : ids) {
                if (id >= model.config().vocabSize()) {
                    throw AricaException.badInput("the tokenizer gives id " + id + ", outside the model's vocabulary of "
                            + model.config().vocabSize() + " (a tokenizer of another model?)");
                }
            }
            String description = ids.length + " tokens of " + source;
            LayerInputs inputs;
            List<int[]> sampled;
            try (OnnxDecoder decoder = OnnxDecoder.open(model.directory(), model.sessionOptions(Device.CPU, threads))) {
                inputs = LayerInputs.collect(decoder, ids, WINDOW, method, Path.of(System.getProperty("java.io.tmpdir")),
                        description);
                try {
                    sampled = sample(decoder, model, samples);
                } catch (IOException | RuntimeException e) {
                    inputs.close();
                    throw e;
                }
            }
            err.printf(Locale.ROOT, "arica: calibration: %s, the inputs of %d weights measured%s in %.1f s%n", description,
                    inputs.weights().size(), sampled.isEmpty() ? "" : String.format(Locale.ROOT,
                            ", %d sequences (%d tokens) sampled for tuning", sampled.size(),
                            sampled.stream().mapToLong(a -> a.length).sum()), (System.nanoTime() - start) / 1e9);
            err.flush();
            return new Collected(inputs, List.copyOf(sampled));
        }
    }

    /**
     * {@code n} sequences from the model at temperature 1, each from the beginning-of-sequence token ({@link
     * #checkTunable} made sure there is one).
     */
    private static List<int[]> sample(OnnxDecoder decoder, ModelInput model, int n) throws IOException {
        List<int[]> out = new ArrayList<>();
        if (n == 0) {
            return out;
        }
        int bos = model.config().bosTokenId();
        int context = decoder.contextLength();
        int length = context > 0 ? Math.min(SAMPLE_TOKENS, context) : SAMPLE_TOKENS;
        Generator generator = new Generator(decoder);
        Sampler sampler = new Sampler(new Sampler.Settings(1.0, 0, 1.0, SAMPLE_SEED));
        Generator.Settings settings = new Generator.Settings(length - 1, model.config().eosTokenIds());
        for (int i = 0; i < n; i++) {
            out.add(generator.generate(new int[] {bos}, settings, sampler, id -> {}, null).ids());
        }
        return out;
    }

    /** End-to-end tuning of the scales on the sampled sequences; one line on {@code err} says what it reached. */
    static CheckpointQuantizer.Options tune(Checkpoint in, CheckpointQuantizer.Options options, List<int[]> samples,
            int steps, PrintWriter err) throws IOException {
        ScaleTuner.Settings settings = ScaleTuner.Settings.of(steps, options.threads());
        CheckpointQuantizer.Options tuned;
        try {
            tuned = EndToEndTuning.tune(in, options, samples, settings, step -> {});
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("end-to-end tuning interrupted");
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput("--tune-steps: " + e.getMessage());
        }
        ScaleTuner.Result r = tuned.tuning();
        err.printf(Locale.ROOT, "arica: tuning: %s, in %.1f s%n", r.describe(), r.seconds());
        err.flush();
        return tuned;
    }
}
