package dev.arica.quantize;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.quantize.tune.LlamaWeights;
import dev.arica.quantize.tune.ScaleTuner;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The end-to-end stage of {@code quantize --method search|gptq --tune-steps N}: the tensors the options quantize are
 * quantized in memory exactly as {@link CheckpointQuantizer} will write them, then {@link ScaleTuner} trains their group
 * scales against the float model on sequences sampled from it; the factors go back into the options, so that the
 * written file holds the method's codes with the tuned scales. The whole model is held in memory as float32 here
 * (it is training, not streaming): models above {@link #MAX_PARAMETERS} are refused.
 */
public final class EndToEndTuning {
    /**
     * Most parameters tuned in memory: 256 MiB of float32 weights, held about (4 + threads) times (the floats, the
     * quantized values, the student and its transpose, a gradient per thread).
     */
    public static final long MAX_PARAMETERS = 1L << 26;

    private EndToEndTuning() {}

    /** Why {@code in} cannot be tuned end to end, or null when it can. */
    public static String unsupported(Checkpoint in) throws IOException {
        return unsupported(in, ModelDescription.of(in, "end-to-end tuning"));
    }

    private static String unsupported(Checkpoint in, ModelDescription d) {
        if (!(d.config() instanceof DecoderConfig c)) {
            return "a " + d.family().id() + " model, not a decoder";
        }
        String why = LlamaWeights.unsupported(c);
        if (why != null) {
            return why;
        }
        long parameters = in.tensors().stream().mapToLong(TensorInfo::elements).sum();
        if (parameters > MAX_PARAMETERS) {
            return String.format(Locale.ROOT, "a model of %,d parameters: tuning holds it in memory, up to %,d",
                    parameters, MAX_PARAMETERS);
        }
        return null;
    }

    /**
     * Tunes the scales of the projections {@code options} quantize (a calibrated method's) on {@code sequences} of
     * token ids and returns the options with the factors.
     */
    public static CheckpointQuantizer.Options tune(Checkpoint in, CheckpointQuantizer.Options options,
            List<int[]> sequences, ScaleTuner.Settings settings, IntConsumer progress)
            throws IOException, InterruptedException {
        if (!options.method().calibrated()) {
            throw new IllegalArgumentException("end-to-end tuning applies to the codes of a calibrated method");
        }
        ModelDescription d = ModelDescription.of(in, "end-to-end tuning");
        String why = unsupported(in, d);
        if (why != null) {
            throw new IllegalArgumentException("end-to-end tuning: " + in.path() + " is " + why);
        }
        LlamaWeights floats = LlamaWeights.read(in, d.decoder(), d.tensors());
        List<TensorSelection.Choice> choices = CheckpointQuantizer.plan(in, options);
        List<TensorInfo> infos = in.tensors();
        Map<String, ScaleTuner.Quantized> quantized = new LinkedHashMap<>();
        LlamaWeights student = floats;
        for (int i = 0; i < infos.size(); i++) {
            String name = infos.get(i).name();
            if (!choices.get(i).quantize()) {
                continue;
            }
            long cols = infos.get(i).shape()[1];
            int m = floats.indexOf(name);
            if (name.equals(floats.embeddingName())) {
                // Quantized, not tuned (a tied head is this table): the student computes with the stored values.
                student = student.withEmbedding(quantizedValues(options, name, floats.embedding(), cols));
            } else if (m >= 0) {
                quantized.put(name, new ScaleTuner.Quantized(quantizedValues(options, name, floats.matrix(m), cols),
                        options.layoutOf(name).groupSize()));
            }
        }
        if (quantized.isEmpty()) {
            throw new IllegalArgumentException("end-to-end tuning: no projection of " + in.path() + " is quantized");
        }
        return options.withTuning(ScaleTuner.tune(floats, student, quantized, sequences, settings, progress));
    }

    /**
     * {@code weights} [rows, cols] quantized by the options' calibrated method and dequantized again, through native
     * little-endian memory as the writer's chunks are.
     */
    private static float[] quantizedValues(CheckpointQuantizer.Options options, String name, float[] weights, long cols)
            throws IOException {
        CalibratedQuantizer q = CheckpointQuantizer.calibrated(options, name);
        long rows = weights.length / cols;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f32 = arena.allocate((long) weights.length * Float.BYTES, 64);
            MemorySegment.copy(weights, 0, f32, FloatCast.F32_LE, 0, weights.length);
            MemorySegment stored = arena.allocate(q.layout().bytes(rows, cols), 64);
            q.quantize(f32, rows, cols, stored);
            q.dequantize(stored, rows, cols, f32);
            return f32.toArray(FloatCast.F32_LE);
        }
    }
}
