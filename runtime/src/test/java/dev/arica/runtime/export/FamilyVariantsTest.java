package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import dev.arica.testdata.SyntheticLlama;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Variants of the families without a reference checkpoint of their own, checked against one that has: Mistral's
 * sliding window against the float64 Llama reference with the same window, and Falcon-40B's grouped query_key_value
 * with two norms (new_decoder_architecture) holding tiny-falcon's weights rearranged, which must compute
 * tiny-falcon's reference logits.
 */
class FamilyVariantsTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void mistralSlidesItsWindowOverTheCache(Flavour flavour) throws Exception {
        SyntheticLlama.Spec s = SyntheticExportTest.sharp(SyntheticLlama.Preset.TINY_GQA);
        Path hf = tmp.resolve("mistral-" + flavour.id);
        SyntheticLlama.write(hf, s, Long.MAX_VALUE, Progress.NONE);
        ObjectNode cfg = (ObjectNode) dev.arica.formats.io.Json.readObjectFile(hf.resolve("config.json"));
        cfg.put("model_type", "mistral").put("sliding_window", 5);
        cfg.putArray("architectures").add("MistralForCausalLM");
        Files.writeString(hf.resolve("config.json"), cfg.toString());
        Path out = tmp.resolve("mistral-onnx-" + flavour.id);
        try (Checkpoint c = Checkpoint.open(hf)) {
            OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withFlavour(flavour), Progress.NONE);
        }
        long[] ids = {3, 17, 99, 4, 250, 31, 8, 77, 120, 5, 64, 200};
        double[][] want;
        double[][] unwindowed;
        try (Checkpoint c = Checkpoint.open(hf)) {
            ReferenceLlama ref = new ReferenceLlama(c, s, 1e-5, 10000.0, w -> w);
            want = ref.logits(ids, SyntheticExportTest.range(0, ids.length), 5);
            unwindowed = ref.logits(ids, SyntheticExportTest.range(0, ids.length));
        }
        try (OrtDecoder d = new OrtDecoder(out)) {
            // The prompt in one call, then the cache: each way the window must hold.
            float[][] prompt = d.prompt(ids).logits()[0];
            OrtDecoder.Step st = d.prompt(java.util.Arrays.copyOf(ids, 6));
            float[][] stepped = new float[ids.length][];
            System.arraycopy(st.logits()[0], 0, stepped, 0, 6);
            for (int t = 6; t < ids.length; t++) {
                st = d.next(ids[t], t, st.cache());
                stepped[t] = st.logits()[0][0];
            }
            double worst = 0, windowMatters = 0;
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < d.vocab; v++) {
                    worst = Math.max(worst, Math.max(Math.abs(want[t][v] - prompt[t][v]), Math.abs(want[t][v] - stepped[t][v])));
                    windowMatters = Math.max(windowMatters, Math.abs(want[t][v] - unwindowed[t][v]));
                }
            }
            assertTrue(worst <= 1e-4, "largest difference from the windowed reference: " + worst);
            assertTrue(windowMatters > 1e-2, "the window changes these logits: " + windowMatters);
        }
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void falcon40bLayoutComputesWhatTheSameWeightsComputeAsFalcon7b(Flavour flavour) throws Exception {
        ReferenceModel tiny = new ReferenceModel("tiny-falcon");
        Path hf = tmp.resolve("falcon40b-" + flavour.id);
        int heads = 4, d = 16, hidden = 64, kv = 2;
        try (Checkpoint c = Checkpoint.open(tiny.dir()); Arena arena = Arena.ofConfined()) {
            Map<String, float[]> out = new LinkedHashMap<>();
            for (TensorInfo t : c.tensors()) {
                String name = t.name();
                float[] v = floats(c.tensor(name));
                if (name.endsWith("query_key_value.weight")) {
                    // Multi-query rows [q0..q3, k, v] become two groups [q0, q1, k, v], [q2, q3, k, v] (kv heads
                    // repeated): the same attention, in the grouped layout with num_kv_heads 2.
                    float[] g = new float[kv * (heads / kv + 2) * d * hidden];
                    int row = 0;
                    for (int group = 0; group < kv; group++) {
                        for (int h = group * heads / kv; h < (group + 1) * heads / kv; h++) {
                            System.arraycopy(v, h * d * hidden, g, row++ * d * hidden, d * hidden);
                        }
                        System.arraycopy(v, heads * d * hidden, g, row++ * d * hidden, d * hidden);
                        System.arraycopy(v, (heads + 1) * d * hidden, g, row++ * d * hidden, d * hidden);
                    }
                    out.put(name, g);
                } else if (name.contains("input_layernorm")) {
                    out.put(name.replace("input_layernorm", "ln_attn"), v);
                    out.put(name.replace("input_layernorm", "ln_mlp"), v);
                } else {
                    out.put(name, v);
                }
            }
            ObjectNode cfg = c.config().orElseThrow().deepCopy();
            cfg.put("new_decoder_architecture", true).put("num_kv_heads", kv);
            List<TensorInfo> infos = new ArrayList<>();
            out.forEach((n, v) -> infos.add(new TensorInfo(n, DType.F32, n.endsWith("query_key_value.weight")
                    ? new long[] {v.length / hidden, hidden}
                    : c.tensors().stream().filter(t -> t.name().equals(n.replace("ln_attn", "input_layernorm")
                            .replace("ln_mlp", "input_layernorm"))).findFirst().orElseThrow().shape())));
            try (HfCheckpointWriter w = HfCheckpointWriter.create(hf, infos, Map.of("format", "pt"), cfg, List.of(),
                    Long.MAX_VALUE, false)) {
                for (Map.Entry<String, float[]> e : out.entrySet()) {
                    w.begin(e.getKey());
                    MemorySegment seg = arena.allocate((long) e.getValue().length * 4);
                    for (int i = 0; i < e.getValue().length; i++) {
                        seg.setAtIndex(FloatCast.F32_LE, i, e.getValue()[i]);
                    }
                    w.write(seg);
                }
                w.commit();
            }
        }
        Path onnx = tmp.resolve("falcon40b-onnx-" + flavour.id);
        try (Checkpoint c = Checkpoint.open(hf)) {
            OnnxExporter.export(c, onnx, OnnxExporter.Options.defaults().withFlavour(flavour), Progress.NONE);
        }
        try (OrtDecoder dec = new OrtDecoder(onnx)) {
            assertEquals(2, dec.kvHeads);
            float[][] want = tiny.logits(dec.vocab);
            float[][] got = dec.prompt(tiny.logitIds()).logits()[0];
            double worst = 0;
            for (int t = 0; t < want.length; t++) {
                for (int v = 0; v < dec.vocab; v++) {
                    worst = Math.max(worst, Math.abs(want[t][v] - got[t][v]));
                }
            }
            assertTrue(worst <= 1e-4, "largest difference from tiny-falcon's reference: " + worst);
            long[] greedy = tiny.greedyIds();
            assertArrayEquals(greedy, dec.greedy(tiny.promptIds(), greedy.length, Set.of()).stream()
                    .mapToLong(Long::longValue).toArray());
        }
    }

    private static float[] floats(Tensor t) {
        float[] out = new float[(int) t.info().elements()];
        int e = 0;
        for (MemorySegment part : t.parts()) {
            for (long j = 0; j < part.byteSize() / 4; j++) {
                out[e++] = part.getAtIndex(FloatCast.F32_LE, j);
            }
        }
        return out;
    }
}
