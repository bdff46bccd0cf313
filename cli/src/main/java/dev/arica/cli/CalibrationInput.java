package dev.arica.cli;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.quantize.Method;
import dev.arica.runtime.calibrate.LayerInputs;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
     * Collects the statistics of {@code input}'s linear layers on {@code text} (null: the built-in text), at most
     * {@code tokens} tokens; a line on {@code err} says what was measured.
     */
    static LayerInputs collect(Path input, Path tokenizerFile, Path textFile, int tokens, Method method, int threads,
            PrintWriter err) throws IOException {
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
            try (OnnxDecoder decoder = OnnxDecoder.open(model.directory(), model.sessionOptions(Device.CPU, threads))) {
                inputs = LayerInputs.collect(decoder, ids, WINDOW, method, Path.of(System.getProperty("java.io.tmpdir")),
                        description);
            }
            err.printf(Locale.ROOT, "arica: calibration: %s, the inputs of %d weights measured in %.1f s%n", description,
                    inputs.weights().size(), (System.nanoTime() - start) / 1e9);
            err.flush();
            return inputs;
        }
    }
}
