package dev.arica.runtime.encode;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.arica.formats.FormatException;
import dev.arica.runtime.export.EncoderIo;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A transformer encoder in ONNX run on one sequence at a time: arica's export of BERT/RoBERTa, or any encoder exported
 * elsewhere (Optimum, sentence-transformers) with inputs {@code input_ids} and, when it has them, {@code attention_mask}
 * and {@code token_type_ids} (int64 [batch, seq]), and outputs {@code last_hidden_state} (or {@code token_embeddings})
 * [batch, seq, hidden] and, with a masked-LM head, {@code logits} [batch, seq, vocab]. Names are checked when opened.
 */
public final class OnnxEncoder implements AutoCloseable {
    private final InferenceSession session;
    private final boolean ownsSession;
    private final OrtEnvironment env;
    private final String hiddenName;
    private final boolean hasMask;
    private final boolean hasTypes;
    private final boolean hasLogits;

    /** One sequence's outputs: hidden [positions][hidden], logits [positions][vocab] or null without a head. */
    public record Output(float[][] hidden, float[][] logits) {}

    public OnnxEncoder(InferenceSession session) throws IOException {
        this(session, false);
    }

    private OnnxEncoder(InferenceSession session, boolean ownsSession) throws IOException {
        this.session = session;
        this.ownsSession = ownsSession;
        this.env = OrtRuntime.get().environment();
        Map<String, InferenceSession.TensorSpec> in = session.inputs();
        Map<String, InferenceSession.TensorSpec> out = session.outputs();
        if (!in.containsKey(EncoderIo.INPUT_IDS)) {
            throw new FormatException(session.model(), "has no input " + EncoderIo.INPUT_IDS + " (inputs: " + in.keySet() + ")");
        }
        Set<String> known = Set.of(EncoderIo.INPUT_IDS, EncoderIo.ATTENTION_MASK, EncoderIo.TOKEN_TYPE_IDS);
        for (String name : in.keySet()) {
            if (!known.contains(name)) {
                throw new FormatException(session.model(), "has an input " + name + " an encoder run does not feed (known: "
                        + String.join(", ", known) + ")");
            }
        }
        hasMask = in.containsKey(EncoderIo.ATTENTION_MASK);
        hasTypes = in.containsKey(EncoderIo.TOKEN_TYPE_IDS);
        hiddenName = out.containsKey(EncoderIo.LAST_HIDDEN_STATE) ? EncoderIo.LAST_HIDDEN_STATE
                : out.containsKey(EncoderIo.TOKEN_EMBEDDINGS) ? EncoderIo.TOKEN_EMBEDDINGS : null;
        if (hiddenName == null) {
            throw new FormatException(session.model(), "has neither " + EncoderIo.LAST_HIDDEN_STATE + " nor "
                    + EncoderIo.TOKEN_EMBEDDINGS + " among its outputs " + out.keySet() + ": not an encoder arica runs");
        }
        hasLogits = out.containsKey(EncoderIo.LOGITS);
    }

    /** Opens {@code model} (an .onnx file); the encoder closes the session. */
    public static OnnxEncoder open(Path model, InferenceSession.Options options) throws IOException {
        InferenceSession s = InferenceSession.open(model, options);
        try {
            return new OnnxEncoder(s, true);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    public boolean hasLogits() {
        return hasLogits;
    }

    public boolean takesTokenTypes() {
        return hasTypes;
    }

    public InferenceSession session() {
        return session;
    }

    /** The last hidden state of one sequence, [positions][hidden]; arguments as {@link #run}. */
    public float[][] hidden(long[] ids, long[] mask, long[] types) throws IOException {
        return run(ids, mask, types, false).hidden();
    }

    /**
     * Runs one sequence for both outputs (logits null without a head); {@code mask} and {@code types} as long as
     * {@code ids} (null: all ones, all zeros). A mask given to a model without that input is refused unless it is all
     * ones; so are token types other than zeros.
     */
    public Output run(long[] ids, long[] mask, long[] types) throws IOException {
        return run(ids, mask, types, hasLogits);
    }

    private Output run(long[] ids, long[] mask, long[] types, boolean logits) throws IOException {
        int n = ids.length;
        if (n == 0) {
            throw new IllegalArgumentException("no ids to encode");
        }
        for (long[] v : Arrays.asList(mask, types)) {
            if (v != null && v.length != n) {
                throw new IllegalArgumentException(v.length + " mask or token type values for " + n + " ids");
            }
        }
        if (!hasMask && mask != null && Arrays.stream(mask).anyMatch(m -> m != 1)) {
            throw new IllegalArgumentException(session.model() + " has no attention_mask input: it cannot skip padding");
        }
        if (!hasTypes && types != null && Arrays.stream(types).anyMatch(t -> t != 0)) {
            throw new IllegalArgumentException(session.model() + " has no token_type_ids input: it has one segment");
        }
        long[] ones = new long[n];
        Arrays.fill(ones, 1);
        Map<String, OnnxTensor> feeds = new HashMap<>();
        try {
            feeds.put(EncoderIo.INPUT_IDS, tensor(ids));
            if (hasMask) {
                feeds.put(EncoderIo.ATTENTION_MASK, tensor(mask == null ? ones : mask));
            }
            if (hasTypes) {
                feeds.put(EncoderIo.TOKEN_TYPE_IDS, tensor(types == null ? new long[n] : types));
            }
            Set<String> wanted = new LinkedHashSet<>(List.of(hiddenName));
            if (logits) {
                wanted.add(EncoderIo.LOGITS);
            }
            try (OrtSession.Result r = session.run(feeds, wanted)) {
                return new Output(rows(r, hiddenName, n), logits ? rows(r, EncoderIo.LOGITS, n) : null);
            }
        } catch (OrtException e) {
            throw new IOException(session.model() + ": cannot build input tensors: " + e.getMessage(), e);
        } finally {
            feeds.values().forEach(OnnxTensor::close);
        }
    }

    private OnnxTensor tensor(long[] v) throws OrtException {
        return OnnxTensor.createTensor(env, LongBuffer.wrap(v), new long[] {1, v.length});
    }

    /** Output {@code name}, [1, n, width], as n rows. */
    private float[][] rows(OrtSession.Result r, String name, int n) throws IOException {
        OnnxValue v = r.get(name).orElseThrow();
        if (!(v instanceof OnnxTensor t)) {
            throw new FormatException(session.model(), name + " is not a tensor");
        }
        long[] shape = t.getInfo().getShape();
        if (shape.length != 3 || shape[0] != 1 || shape[1] != n) {
            throw new FormatException(session.model(), name + " has shape " + Arrays.toString(shape) + ", expected [1, " + n
                    + ", width]");
        }
        int width = Math.toIntExact(shape[2]);
        FloatBuffer all = t.getFloatBuffer();
        float[][] out = new float[n][width];
        for (int i = 0; i < n; i++) {
            all.get(out[i]);
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        if (ownsSession) {
            session.close();
        }
    }
}
