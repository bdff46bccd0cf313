package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import dev.arica.testdata.SyntheticLlama.Spec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Synthetic Llama models (multi-head and grouped-query, tied and untied) exported and run in ONNX Runtime,
 * against a float64 forward pass written in the test: the graph checked independently of stories260K.
 */
class SyntheticExportTest {

    /** float32 arithmetic against float64: logits of a few units agree to about 1e-6. */
    static final double TOLERANCE = 1e-4;

    @TempDir
    Path tmp;

    /**
     * The preset with weights drawn from N(0, 0.2) instead of N(0, 0.02): attention is then far from
     * uniform, so a wrong rotary angle, head mapping or mask changes the logits well beyond the tolerance.
     */
    static Spec sharp(Preset p) {
        Spec s = p.spec();
        return new Spec(s.hidden(), s.intermediate(), s.layers(), s.heads(), s.kvHeads(), s.vocab(), s.maxPositions(),
                s.tied(), s.dtype(), 0.2, s.seed());
    }

    private Path checkpoint(Spec s) throws Exception {
        Path dir = tmp.resolve("hf-" + s.seed() + "-" + s.dtype().name().toLowerCase(Locale.ROOT));
        SyntheticLlama.write(dir, s, Long.MAX_VALUE, Progress.NONE);
        return dir;
    }

    private Path export(Path hf, DType weights, Flavour flavour) throws Exception {
        Path out = tmp.resolve(hf.getFileName() + "-onnx-" + weights.name().toLowerCase(Locale.ROOT) + "-" + flavour.id);
        try (Checkpoint c = Checkpoint.open(hf)) {
            OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withWeightType(weights)
                    .withFlavour(flavour), Progress.NONE);
        }
        return out;
    }

    /** Every preset of the multi-head and grouped-query kinds, in both flavours. */
    static Stream<Arguments> presetsAndFlavours() {
        return Stream.of("TINY", "TINY_GQA", "TINY_UNTIED").flatMap(p -> Arrays.stream(Flavour.values())
                .map(f -> Arguments.of(Preset.valueOf(p), f)));
    }

    private static ReferenceLlama reference(Path hf, Spec s, DoubleUnaryOperator weights) throws Exception {
        try (Checkpoint c = Checkpoint.open(hf)) {
            return new ReferenceLlama(c, s, 1e-5, 10000.0, weights);
        }
    }

    static long[] tokens(Spec s, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(s.vocab());
        }
        return ids;
    }

    static long[] range(long from, int n) {
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = from + i;
        }
        return p;
    }

    /** Largest |a - b| over a row, after checking the reference row is not flat (so the comparison means something). */
    static double diff(double[] ref, float[] got) {
        assertEquals(ref.length, got.length);
        double m = 0, lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (int i = 0; i < ref.length; i++) {
            m = Math.max(m, Math.abs(ref[i] - got[i]));
            lo = Math.min(lo, ref[i]);
            hi = Math.max(hi, ref[i]);
        }
        assertTrue(hi - lo > 0.5, "reference logits span only " + (hi - lo));
        return m;
    }

    static void assertClose(double[][] ref, float[][] got, String what) {
        assertEquals(ref.length, got.length, what);
        for (int p = 0; p < ref.length; p++) {
            double d = diff(ref[p], got[p]);
            assertTrue(d <= TOLERANCE, what + ", position " + p + ": logits differ by " + d);
        }
    }

    @ParameterizedTest
    @MethodSource("presetsAndFlavours")
    void logitsMatchAFloat64Reference(Preset preset, Flavour flavour) throws Exception {
        Spec s = sharp(preset);
        Path hf = checkpoint(s);
        long[] ids = tokens(s, 19, 7);
        double[][] ref = reference(hf, s, w -> w).logits(ids, range(0, ids.length));
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F32, flavour))) {
            assertClose(ref, d.prompt(ids).logits()[0], preset.name());
            // The cached path: the prompt's first half, then one token per call.
            OrtDecoder.Step st = d.prompt(Arrays.copyOf(ids, 9));
            for (int p = 9; p < ids.length; p++) {
                st = d.next(ids[p], p, st.cache());
                assertClose(new double[][] {ref[p]}, st.logits()[0], preset.name() + " cached step " + p);
            }
            // A prompt fed in chunks: several new tokens on top of a cache.
            OrtDecoder.Step first = d.prompt(Arrays.copyOf(ids, 5));
            long[] chunk = Arrays.copyOfRange(ids, 5, 12);
            OrtDecoder.Step second = d.run(new long[][] {chunk}, new long[][] {OrtDecoder.ones(12)},
                    new long[][] {range(5, chunk.length)}, first.cache());
            assertClose(Arrays.copyOfRange(ref, 5, 12), second.logits()[0], preset.name() + " second chunk");
        }
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void rotaryAnglesComeFromPositionIds(Flavour flavour) throws Exception {
        Spec s = sharp(Preset.TINY_GQA);
        Path hf = checkpoint(s);
        long[] ids = tokens(s, 8, 11);
        // Rotary attention depends on position differences only, so the test jumps: 0..3, then 24..27.
        long[] positions = range(0, ids.length);
        for (int i = 4; i < positions.length; i++) {
            positions[i] += 20;
        }
        ReferenceLlama ref = reference(hf, s, w -> w);
        double[][] jumped = ref.logits(ids, positions);
        double[][] plain = ref.logits(ids, range(0, ids.length));
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F32, flavour))) {
            float[][] got = d.run(new long[][] {ids}, new long[][] {OrtDecoder.ones(ids.length)},
                    new long[][] {positions}, d.empty(1)).logits()[0];
            assertClose(jumped, got, "positions with a gap");
            double moved = 0;
            for (int p = 4; p < ids.length; p++) {
                moved = Math.max(moved, diff(plain[p], got[p]));
            }
            assertTrue(moved > 100 * TOLERANCE, "the gap in the positions should change the logits, changed by " + moved);
        }
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void aLeftPaddedBatchGivesEachSequenceItsOwnLogits(Flavour flavour) throws Exception {
        Spec s = sharp(Preset.TINY_GQA);
        Path hf = checkpoint(s);
        ReferenceLlama ref = reference(hf, s, w -> w);
        long[] a = tokens(s, 10, 21);
        long[] b = tokens(s, 6, 22);
        int pad = a.length - b.length;
        long[][] ids = new long[2][a.length];
        long[][] mask = new long[2][a.length];
        long[][] pos = new long[2][a.length];
        for (int i = 0; i < a.length; i++) {
            ids[0][i] = a[i];
            mask[0][i] = 1;
            pos[0][i] = i;
            boolean real = i >= pad;
            ids[1][i] = real ? b[i - pad] : 0;
            mask[1][i] = real ? 1 : 0;
            pos[1][i] = real ? i - pad : 1;
        }
        long nextA = 5, nextB = 9;
        double[][] refA = ref.logits(append(a, nextA), range(0, a.length + 1));
        double[][] refB = ref.logits(append(b, nextB), range(0, b.length + 1));
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F32, flavour))) {
            OrtDecoder.Step st = d.run(ids, mask, pos, d.empty(2));
            for (int i = 0; i < a.length; i++) {
                assertTrue(diff(refA[i], st.logits()[0][i]) <= TOLERANCE, "sequence a, position " + i);
            }
            for (int i = 0; i < b.length; i++) {
                assertTrue(diff(refB[i], st.logits()[1][pad + i]) <= TOLERANCE, "sequence b, position " + i);
            }
            long[][] mask2 = {append(mask[0], 1), append(mask[1], 1)};
            OrtDecoder.Step next = d.run(new long[][] {{nextA}, {nextB}}, mask2, new long[][] {{a.length}, {b.length}},
                    st.cache());
            assertTrue(diff(refA[a.length], next.logits()[0][0]) <= TOLERANCE, "sequence a, cached step");
            assertTrue(diff(refB[b.length], next.logits()[1][0]) <= TOLERANCE, "sequence b, cached step");
        }
    }

    /**
     * Several new tokens per sequence on top of a cache, in a batch: the standard graph computes it; the
     * ORT-optimized one refuses it, because GroupQueryAttention takes a chunk after a past in batches of one only.
     */
    @ParameterizedTest
    @EnumSource(Flavour.class)
    void aBatchOfChunksOnTopOfACache(Flavour flavour) throws Exception {
        Spec s = sharp(Preset.TINY_GQA);
        long[][] seqs = {tokens(s, 10, 51), tokens(s, 10, 52)};
        Path hf = checkpoint(s);
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F32, flavour))) {
            OrtDecoder.Step st = d.run(new long[][] {Arrays.copyOf(seqs[0], 4), Arrays.copyOf(seqs[1], 4)},
                    new long[][] {OrtDecoder.ones(4), OrtDecoder.ones(4)}, new long[][] {range(0, 4), range(0, 4)}, d.empty(2));
            long[][] chunk = {Arrays.copyOfRange(seqs[0], 4, 10), Arrays.copyOfRange(seqs[1], 4, 10)};
            long[][] mask = {OrtDecoder.ones(10), OrtDecoder.ones(10)};
            long[][] pos = {range(4, 6), range(4, 6)};
            if (flavour == Flavour.ORT_OPTIMIZED) {
                OrtException e = assertThrows(OrtException.class, () -> d.run(chunk, mask, pos, st.cache()));
                assertTrue(e.getMessage().contains("batch_size must be 1 when sequence_length > 1 and past context is given"),
                        e.getMessage());
                return;
            }
            OrtDecoder.Step next = d.run(chunk, mask, pos, st.cache());
            ReferenceLlama ref = reference(hf, s, w -> w);
            for (int b = 0; b < 2; b++) {
                double[][] want = ref.logits(seqs[b], range(0, 10));
                assertClose(Arrays.copyOfRange(want, 4, 10), next.logits()[b], "sequence " + b + " after its cache");
            }
        }
    }

    /** The ORT-optimized graph's rotary tables end at the context length; ONNX Runtime refuses positions beyond. */
    @ParameterizedTest
    @EnumSource(Flavour.class)
    void positionsUpToTheContextLength(Flavour flavour) throws Exception {
        Spec s = sharp(Preset.TINY_GQA);
        try (OrtDecoder d = new OrtDecoder(export(checkpoint(s), DType.F32, flavour))) {
            long last = s.maxPositions() - 1;
            assertEquals(s.vocab(), d.run(new long[][] {{5}}, new long[][] {{1}}, new long[][] {{last}}, d.empty(1))
                    .logits()[0][0].length);
            long[][] beyond = {{last + 1}};
            if (flavour == Flavour.STANDARD) {
                assertEquals(s.vocab(), d.run(new long[][] {{5}}, new long[][] {{1}}, beyond, d.empty(1)).logits()[0][0].length);
            } else {
                OrtException e = assertThrows(OrtException.class, () -> d.run(new long[][] {{5}}, new long[][] {{1}}, beyond, d.empty(1)));
                assertTrue(e.getMessage().contains("position_ids value " + (last + 1) + " at index 0 is out of range"), e.getMessage());
            }
        }
    }

    static long[] append(long[] x, long v) {
        long[] y = Arrays.copyOf(x, x.length + 1);
        y[x.length] = v;
        return y;
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void f16WeightsComputeWithTheRoundedWeights(Flavour flavour) throws Exception {
        Spec s = sharp(Preset.TINY_GQA);
        Path hf = checkpoint(s);
        long[] ids = tokens(s, 12, 31);
        DoubleUnaryOperator toHalf = w -> Float.float16ToFloat(Float.floatToFloat16((float) w));
        double[][] rounded = reference(hf, s, toHalf).logits(ids, range(0, ids.length));
        double[][] exact = reference(hf, s, w -> w).logits(ids, range(0, ids.length));
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F16, flavour))) {
            float[][] got = d.prompt(ids).logits()[0];
            assertClose(rounded, got, "f16 weights");
            double moved = 0;
            for (int p = 0; p < ids.length; p++) {
                moved = Math.max(moved, diff(exact[p], got[p]));
            }
            assertTrue(moved > TOLERANCE, "rounding to f16 should show in the logits, moved " + moved);
        }
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void aBf16CheckpointIsCastOnTheWay(Flavour flavour) throws Exception {
        Spec s = sharp(Preset.TINY_UNTIED).withDtype(DType.BF16);
        Path hf = checkpoint(s);
        long[] ids = tokens(s, 12, 41);
        double[][] ref = reference(hf, s, w -> w).logits(ids, range(0, ids.length));
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F32, flavour))) {
            assertClose(ref, d.prompt(ids).logits()[0], "bf16 checkpoint, f32 export");
        }
        DoubleUnaryOperator toHalf = w -> Float.float16ToFloat(Float.floatToFloat16((float) w));
        double[][] half = reference(hf, s, toHalf).logits(ids, range(0, ids.length));
        try (OrtDecoder d = new OrtDecoder(export(hf, DType.F16, flavour))) {
            assertClose(half, d.prompt(ids).logits()[0], "bf16 checkpoint, f16 export");
        }
    }
}
