package dev.arica.runtime.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An exported decoder run in ONNX Runtime (CPU), driven only by what its directory's arica-genai.json
 * says: input and output names, layers, cache shape. The cache travels as plain float arrays.
 */
final class OrtDecoder implements AutoCloseable {

    /** Layer-by-layer keys and values, each [batch, kv_heads, length, head_dim] flattened. */
    record Cache(int batch, long length, List<float[]> keys, List<float[]> values) {}

    /** Logits [batch][seq][vocab] and the cache to pass to the next call. */
    record Step(float[][][] logits, Cache cache) {}

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final JsonNode genai;
    final int layers;
    final int kvHeads;
    final int headDim;
    final int vocab;

    OrtDecoder(Path dir) throws IOException, OrtException {
        // The build machine is shared: one thread keeps the tests from crowding it.
        this(dir, OrtSession.SessionOptions.OptLevel.ALL_OPT, 1);
    }

    OrtDecoder(Path dir, OrtSession.SessionOptions.OptLevel level, int threads) throws IOException, OrtException {
        genai = Json.readObjectFile(dir.resolve(OnnxExporter.GENAI_FILE));
        layers = genai.get("num_layers").asInt();
        kvHeads = genai.get("num_kv_heads").asInt();
        headDim = genai.get("head_dim").asInt();
        vocab = genai.get("vocab_size").asInt();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(level);
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            // As InferenceSession: fused DequantizeLinear + MatMul computes in float32, not with int8 activations.
            o.addConfigEntry("session.qdq_matmulnbits_accuracy_level", "0");
            session = env.createSession(dir.resolve(genai.get("model").asText()).toString(), o);
        }
    }

    private String name(String group, String key, int layer) {
        return genai.get(group).get(key).asText().replace("{i}", Integer.toString(layer));
    }

    Cache empty(int batch) {
        List<float[]> k = new ArrayList<>();
        List<float[]> v = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            k.add(new float[0]);
            v.add(new float[0]);
        }
        return new Cache(batch, 0, k, v);
    }

    /** One call: {@code ids} and {@code positions} [batch][seq], {@code mask} [batch][past + seq]. */
    Step run(long[][] ids, long[][] mask, long[][] positions, Cache past) throws OrtException {
        int b = ids.length;
        int s = ids[0].length;
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        try {
            in.put(name("inputs", "input_ids", 0), longs(ids));
            in.put(name("inputs", "attention_mask", 0), longs(mask));
            in.put(name("inputs", "position_ids", 0), longs(positions));
            long[] cacheShape = {b, kvHeads, past.length(), headDim};
            for (int i = 0; i < layers; i++) {
                in.put(name("inputs", "past_key", i), OnnxTensor.createTensor(env, FloatBuffer.wrap(past.keys().get(i)), cacheShape));
                in.put(name("inputs", "past_value", i), OnnxTensor.createTensor(env, FloatBuffer.wrap(past.values().get(i)), cacheShape));
            }
            try (OrtSession.Result r = session.run(in)) {
                float[] flat = floats(r, name("outputs", "logits", 0));
                float[][][] logits = new float[b][s][vocab];
                for (int x = 0; x < b; x++) {
                    for (int y = 0; y < s; y++) {
                        System.arraycopy(flat, (x * s + y) * vocab, logits[x][y], 0, vocab);
                    }
                }
                List<float[]> k = new ArrayList<>();
                List<float[]> v = new ArrayList<>();
                for (int i = 0; i < layers; i++) {
                    k.add(floats(r, name("outputs", "present_key", i)));
                    v.add(floats(r, name("outputs", "present_value", i)));
                }
                return new Step(logits, new Cache(b, past.length() + s, k, v));
            }
        } finally {
            for (OnnxTensor t : in.values()) {
                t.close();
            }
        }
    }

    private OnnxTensor longs(long[][] rows) throws OrtException {
        long[] flat = new long[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        }
        return OnnxTensor.createTensor(env, LongBuffer.wrap(flat), new long[] {rows.length, rows[0].length});
    }

    private static float[] floats(OrtSession.Result r, String name) {
        OnnxTensor t = (OnnxTensor) r.get(name).orElseThrow(() -> new AssertionError("no output " + name));
        FloatBuffer fb = t.getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    /** One sequence fed whole: positions 0.., mask all ones, no past. */
    Step prompt(long[] ids) throws OrtException {
        long[] pos = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            pos[i] = i;
        }
        return run(new long[][] {ids}, new long[][] {ones(ids.length)}, new long[][] {pos}, empty(1));
    }

    /** One token at {@code position} of a single sequence, attending to {@code cache}. */
    Step next(long token, int position, Cache cache) throws OrtException {
        return run(new long[][] {{token}}, new long[][] {ones(position + 1)}, new long[][] {{position}}, cache);
    }

    static long[] ones(int n) {
        long[] m = new long[n];
        java.util.Arrays.fill(m, 1);
        return m;
    }

    /**
     * Greedy decoding with the cache: the prompt in one call, then one token per call, until {@code maxIds}
     * ids or a stop id (not included).
     */
    List<Long> greedy(long[] prompt, int maxIds, Set<Long> stop) throws OrtException {
        List<Long> ids = new ArrayList<>();
        for (long t : prompt) {
            ids.add(t);
        }
        Step st = prompt(prompt);
        while (ids.size() < maxIds) {
            float[][] rows = st.logits()[0];
            long next = argmax(rows[rows.length - 1]);
            if (stop.contains(next)) {
                break;
            }
            ids.add(next);
            if (ids.size() < maxIds) {
                st = next(next, ids.size() - 1, st.cache());
            }
        }
        return ids;
    }

    static int argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
