package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.ToyOnnx;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import dev.arica.testdata.SyntheticLlama;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link OnnxExporter} writes is what {@link GenAiConfig} and {@link OnnxDecoder} read (the two
 * were written separately): an exported directory opens and generates without any other help.
 */
class ExportedDecoderTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void ort() {
        ToyOnnx.ort();
    }

    @Test
    void anExportedSyntheticModelOpensAndMatchesTheJavaReference() throws Exception {
        Path hf = tmp.resolve("gqa");
        SyntheticLlama.Spec spec = SyntheticLlama.Preset.TINY_GQA.spec();
        SyntheticLlama.write(hf, spec, Long.MAX_VALUE, Progress.NONE);
        Path out = tmp.resolve("gqa-onnx");
        try (Checkpoint c = Checkpoint.open(hf)) {
            OnnxExporter.export(c, out, OnnxExporter.Options.defaults(), Progress.NONE);
        }
        GenAiConfig g = GenAiConfig.read(out.resolve(GenAiConfig.FILE));
        assertEquals(spec.layers(), g.numLayers());
        assertEquals(spec.kvHeads(), g.numKvHeads());
        assertEquals(spec.headDim(), g.headDim());
        assertEquals(spec.vocab(), g.vocabSize());
        assertEquals(spec.maxPositions(), g.contextLength());
        assertEquals(1, g.bosTokenId());
        assertArrayEquals(new int[] {2}, g.eosTokenIds());
        assertEquals("float32", g.dtype());
        assertEquals(GenAiConfig.Inputs.DEFAULT, g.inputs());
        assertEquals(GenAiConfig.Outputs.DEFAULT, g.outputs());

        long[] ids = {1, 17, 200, 3, 99, 42};
        try (Checkpoint c = Checkpoint.open(hf);
             LlamaReferenceDecoder ref = new LlamaReferenceDecoder(c);
             OnnxDecoder d = OnnxDecoder.open(out, new InferenceSession.Options(Device.CPU, 1, 0))) {
            // The prompt in one call, then single cached steps: each must give the reference's logits.
            float[] got = d.forward(new long[] {ids[0], ids[1], ids[2]}, new long[] {0, 1, 2});
            float[] want = null;
            for (int p = 0; p < 3; p++) {
                want = ref.forward(new long[] {ids[p]}, new long[] {p});
            }
            assertClose(want, got, "after the prompt");
            for (int p = 3; p < ids.length; p++) {
                assertClose(ref.forward(new long[] {ids[p]}, new long[] {p}), d.forward(new long[] {ids[p]}, new long[] {p}),
                        "cached step at " + p);
            }
        }
    }

    @Test
    void forwardAllOfStories260KGivesTheLogitsOfStepByStepDecoding() throws Exception {
        Path out = tmp.resolve("stories-rows");
        try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint())) {
            OnnxExporter.export(c, out, OnnxExporter.Options.defaults(), Progress.NONE);
        }
        Stories260K.Greedy ref = Stories260K.greedy().getFirst();
        int[] ids = ref.ids();
        int n = 40;
        try (OnnxDecoder d = OnnxDecoder.open(out, new InferenceSession.Options(Device.CPU, 1, 0))) {
            float[][] steps = new float[n][];
            for (int p = 0; p < n; p++) {
                steps[p] = d.forward(new long[] {ids[p]}, new long[] {p});
            }
            d.reset();
            // The first 30 in one run, the next 10 in a second run continuing the cache.
            float[][] rows = new float[n][];
            long[] head = new long[30];
            long[] headPositions = new long[30];
            for (int p = 0; p < 30; p++) {
                head[p] = ids[p];
                headPositions[p] = p;
            }
            d.forwardAll(head, headPositions, (i, logits) -> rows[i] = logits.clone());
            long[] tail = new long[n - 30];
            long[] tailPositions = new long[n - 30];
            for (int p = 30; p < n; p++) {
                tail[p - 30] = ids[p];
                tailPositions[p - 30] = p;
            }
            d.forwardAll(tail, tailPositions, (i, logits) -> rows[30 + i] = logits.clone());
            assertEquals(n, d.cacheLength());
            for (int p = 0; p < n; p++) {
                assertClose(steps[p], rows[p], "position " + p);
                if (p >= ref.promptIds().length - 1) {
                    assertEquals(ids[p + 1], Sampler.argmax(rows[p]), "the reference's greedy choice after position " + p);
                }
            }
        }
    }

    private static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(want[i] - got[i]));
        }
        assertTrue(worst < 1e-4, what + ": largest logit difference " + worst);
    }

    @Test
    void anExportedStories260KReproducesTheGreedyReference() throws Exception {
        Path out = tmp.resolve("stories-onnx");
        try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint())) {
            OnnxExporter.export(c, out, OnnxExporter.Options.defaults(), Progress.NONE);
        }
        Tokenizer tok = Tokenizer.open(out);
        try (OnnxDecoder d = OnnxDecoder.open(out, new InferenceSession.Options(Device.CPU, 1, 0))) {
            assertEquals(512, d.contextLength());
            Generator g = new Generator(d, tok);
            for (Stories260K.Greedy ref : Stories260K.greedy()) {
                int[] prompt = tok.encode(ref.prompt(), true);
                assertArrayEquals(ref.promptIds(), prompt);
                StringBuilder text = new StringBuilder();
                // 256 positions as the reference ran them: at most 257 ids, the prompt's included.
                Generator.Result r = g.generate(prompt, new Generator.Settings(257 - prompt.length, d.config().eosTokenIds()),
                        Sampler.greedy(), text::append);
                assertArrayEquals(ref.ids(), r.ids(), "ids after '" + ref.prompt() + "'");
                assertEquals(ref.text(), ref.prompt() + text, "text after '" + ref.prompt() + "'");
            }
        }
    }
}
