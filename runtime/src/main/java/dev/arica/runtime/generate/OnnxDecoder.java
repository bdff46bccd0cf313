package dev.arica.runtime.generate;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.arica.formats.FormatException;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link Decoder} over an exported decoder graph (the ORT GenAI convention, names from
 * {@link GenAiConfig}): inputs {@code input_ids} [1, seq], {@code attention_mask} [1, past + seq] and
 * {@code position_ids} [1, seq] (int64), past keys/values [1, kv_heads, past, head_dim] (or, for a recurrent
 * model, the {@link GenAiConfig.State} it lists); outputs {@code logits} [1, seq or 1, vocab] and the present
 * keys/values (state), which are fed back as the next past without copying. Batch size 1. The first step's past is empty (past = 0). {@link #forward} reads the
 * last row of the logits; {@link #forwardAll} every row, in the same single run.
 *
 * <p>ORT's Java API has no I/O binding, so on CUDA the cache travels to the host and back each step.
 */
public final class OnnxDecoder implements Decoder {
    private final InferenceSession session;
    private final boolean ownsSession;
    private final GenAiConfig config;
    private final OrtEnvironment env;
    private final OnnxJavaType cacheType;
    private final OnnxJavaType logitsType;
    /** The inputs of a run: the same names at every step, values replaced. */
    private final Map<String, OnnxTensorLike> feeds = new HashMap<>();
    private final Set<String> wanted = new LinkedHashSet<>();
    /** The present outputs alone, asked for when the logits are written into a buffer of ours. */
    private final Set<String> presentOnly;
    /** Whether the graph gives logits for every fed position (else only the last). */
    private final boolean logitsPerPosition;
    private final StepInput stepIds;
    private final StepInput stepPositions;
    private LongBuffer ones;
    private FloatBuffer stepLogitsBuffer;
    private OnnxTensor stepLogits;
    /** The previous step's outputs: its present tensors are this step's past. Closed one step later. */
    private OrtSession.Result previous;
    private final Map<String, OnnxTensor> emptyPast = new HashMap<>();
    private int cacheLength;
    private boolean closed;

    /**
     * Wraps an open session; checks before any run that the model's inputs are exactly those the config
     * names and that it has the outputs.
     */
    public OnnxDecoder(InferenceSession session, GenAiConfig config) throws IOException {
        this(session, config, false);
    }

    private OnnxDecoder(InferenceSession session, GenAiConfig config, boolean ownsSession) throws IOException {
        this.session = session;
        this.config = config;
        this.ownsSession = ownsSession;
        this.env = OrtRuntime.get().environment();
        this.cacheType = switch (config.dtype()) {
            case "float16" -> OnnxJavaType.FLOAT16;
            case "bfloat16" -> OnnxJavaType.BFLOAT16;
            default -> OnnxJavaType.FLOAT;
        };
        Set<String> expectedInputs = new LinkedHashSet<>();
        expectedInputs.add(config.inputs().inputIds());
        if (config.inputs().attentionMask() != null) {
            expectedInputs.add(config.inputs().attentionMask());
        }
        if (config.inputs().positionIds() != null) {
            expectedInputs.add(config.inputs().positionIds());
        }
        wanted.add(config.outputs().logits());
        Set<String> presents = new LinkedHashSet<>();
        for (GenAiConfig.State state : config.states()) {
            expectedInputs.add(state.past());
            presents.add(state.present());
        }
        wanted.addAll(presents);
        List<String> problems = session.nameProblems(expectedInputs, wanted);
        if (!problems.isEmpty()) {
            throw new FormatException(session.model(), "does not match " + GenAiConfig.FILE + ": " + String.join("; ", problems));
        }
        InferenceSession.TensorSpec logits = session.outputs().get(config.outputs().logits());
        this.logitsType = OnnxJavaType.valueOf(logits.type());
        if (logitsType != OnnxJavaType.FLOAT && logitsType != OnnxJavaType.FLOAT16 && logitsType != OnnxJavaType.BFLOAT16) {
            throw new FormatException(session.model(), "logits are " + logits.type() + ", not a floating-point type");
        }
        this.presentOnly = presents;
        // A declared sequence dimension of 1 means the graph keeps only the last position; a symbol, all of them.
        this.logitsPerPosition = logits.shape().length != 3 || logits.shape()[1] != 1;
        long lastDim = logits.shape().length == 3 ? logits.shape()[2] : -1;
        if (lastDim > 0 && lastDim != config.vocabSize()) {
            throw new FormatException(session.model(), "logits have " + lastDim + " entries, " + GenAiConfig.FILE
                    + " says vocab_size " + config.vocabSize());
        }
        try {
            this.stepIds = stepInput();
            this.stepPositions = stepInput();
        } catch (OrtException e) {
            throw new IOException(session.model() + ": cannot build input tensors: " + e.getMessage(), e);
        }
    }

    /** Opens {@code dir}'s {@value GenAiConfig#FILE} and model; the decoder closes the session. */
    public static OnnxDecoder open(Path dir, InferenceSession.Options options) throws IOException {
        GenAiConfig config = GenAiConfig.read(dir.resolve(GenAiConfig.FILE));
        InferenceSession s = InferenceSession.open(dir.resolve(config.model()), options);
        try {
            return new OnnxDecoder(s, config, true);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    public InferenceSession session() {
        return session;
    }

    public GenAiConfig config() {
        return config;
    }

    @Override
    public float[] forward(long[] ids, long[] positions) throws IOException {
        return run(ids, positions, null, Set.of(), null);
    }

    /** Values of other graph outputs, as float32 in row-major order. */
    @FunctionalInterface
    public interface OutputSink {
        void accept(String name, FloatBuffer values) throws IOException;
    }

    /**
     * {@link #forward} of {@code ids} in one run that also fetches the float32 outputs {@code extra} (such as
     * {@link dev.arica.runtime.export.LinearInputs}) and hands each to {@code sink} once the cache has advanced.
     */
    public void forwardWith(long[] ids, long[] positions, Set<String> extra, OutputSink sink) throws IOException {
        List<String> problems = session.nameProblems(Set.copyOf(session.inputNames()), extra);
        if (!problems.isEmpty()) {
            throw new FormatException(session.model(), String.join("; ", problems));
        }
        run(ids, positions, null, extra, sink);
    }

    /**
     * One run for all of {@code ids} when the graph gives every position's logits (float32 ones are read
     * from the pinned [1, n, vocab] buffer, row by row into one reused array); otherwise one run per token.
     */
    @Override
    public void forwardAll(long[] ids, long[] positions, LogitsSink sink) throws IOException {
        if (!logitsPerPosition && ids.length > 1) {
            Decoder.super.forwardAll(ids, positions, sink);
            return;
        }
        run(ids, positions, sink, Set.of(), null);
    }

    /** Runs the graph once; without a sink returns the last row, with one hands it every row and returns null. */
    private float[] run(long[] ids, long[] positions, LogitsSink sink, Set<String> extra, OutputSink extraSink)
            throws IOException {
        if (closed) {
            throw new IllegalStateException("decoder is closed");
        }
        int n = ids.length;
        if (n == 0 || positions.length != n) {
            throw new IllegalArgumentException(n + " ids with " + positions.length + " positions");
        }
        for (int i = 0; i < n; i++) {
            if (positions[i] != cacheLength + i) {
                throw new IllegalArgumentException("position " + positions[i] + " at index " + i + " does not continue the cache of "
                        + cacheLength + " tokens");
            }
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + ids[i] + " is outside the vocabulary of " + config.vocabSize());
            }
        }
        if (config.contextLength() > 0 && cacheLength + n > config.contextLength()) {
            throw new IllegalArgumentException((cacheLength + n) + " positions exceed the context length " + config.contextLength());
        }
        List<OnnxTensor> created = new ArrayList<>();
        try {
            Map<String, OnnxTensorLike> feeds = this.feeds;
            feeds.put(config.inputs().inputIds(), n == 1 ? step(stepIds, ids[0]) : track(created, longs(ids)));
            if (config.inputs().attentionMask() != null) {
                feeds.put(config.inputs().attentionMask(), track(created, mask(cacheLength + n)));
            }
            if (config.inputs().positionIds() != null) {
                feeds.put(config.inputs().positionIds(), n == 1 ? step(stepPositions, positions[0]) : track(created, longs(positions)));
            }
            for (GenAiConfig.State state : config.states()) {
                feeds.put(state.past(), past(state));
            }
            OnnxTensor pinned = logitsType == OnnxJavaType.FLOAT ? logitsOutput(n, created) : null;
            Set<String> asked = pinned == null ? wanted : presentOnly;
            if (!extra.isEmpty()) {
                asked = new LinkedHashSet<>(asked);
                asked.addAll(extra);
            }
            OrtSession.Result result = pinned == null ? session.run(feeds, asked)
                    : session.run(feeds, asked, Map.of(config.outputs().logits(), pinned));
            float[] logits = null;
            FloatBuffer rows = null;
            try {
                if (sink == null) {
                    logits = pinned == null ? lastRow(result) : lastRow(pinned);
                } else {
                    rows = pinned == null ? allRows(result, n) : (FloatBuffer) pinned.getBufferRef().orElseThrow();
                }
                checkPresentLengths(result, cacheLength + n);
            } catch (IOException | RuntimeException e) {
                result.close();
                throw e;
            }
            if (previous != null) {
                previous.close();
            }
            previous = result;
            cacheLength += n;
            for (String name : extra) {
                extraSink.accept(name, ((OnnxTensor) result.get(name).orElseThrow()).getFloatBuffer());
            }
            if (sink != null) {
                // The run is complete and the cache advanced before the sink sees a row: a failing sink leaves no half step.
                float[] row = new float[config.vocabSize()];
                for (int i = 0; i < n; i++) {
                    rows.get(i * row.length, row);
                    sink.accept(i, row);
                }
            }
            return logits;
        } catch (OrtException e) {
            throw new IOException(session.model() + ": cannot build input tensors: " + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
        }
    }

    /** A [1, n] int64 tensor over a fresh direct buffer (ORT copies a heap buffer; this saves the copy). */
    private OnnxTensor longs(long[] values) throws OrtException {
        LongBuffer b = ByteBuffer.allocateDirect(values.length * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
        b.put(values).rewind();
        return OnnxTensor.createTensor(env, b, new long[] {1, values.length});
    }

    /** A [1, 1] input reused at every decoding step: ORT reads its direct buffer, rewritten before each run. */
    private record StepInput(LongBuffer value, OnnxTensor tensor) {}

    private StepInput stepInput() throws OrtException {
        LongBuffer b = ByteBuffer.allocateDirect(Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
        return new StepInput(b, OnnxTensor.createTensor(env, b, new long[] {1, 1}));
    }

    private static OnnxTensor step(StepInput in, long value) {
        in.value().put(0, value);
        return in.tensor();
    }

    /** [1, total] ones: a view of one direct buffer of ones, grown (doubled) as the cache grows. */
    private OnnxTensor mask(int total) throws OrtException {
        if (ones == null || ones.capacity() < total) {
            int capacity = Math.max(total, ones == null ? 64 : 2 * ones.capacity());
            if (config.contextLength() > 0) {
                capacity = Math.max(total, Math.min(capacity, config.contextLength()));
            }
            ones = ByteBuffer.allocateDirect(capacity * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
            for (int i = 0; i < capacity; i++) {
                ones.put(i, 1);
            }
        }
        return OnnxTensor.createTensor(env, ones.slice(0, total), new long[] {1, total});
    }

    /**
     * Where ORT writes float32 logits, so that only the last row is read from it: [1, 1, vocab] at each
     * step (one tensor kept), [1, n, vocab] at a prefill of n tokens when the graph gives every position's.
     */
    private OnnxTensor logitsOutput(int n, List<OnnxTensor> created) throws OrtException {
        int vocab = config.vocabSize();
        int rows = logitsPerPosition ? n : 1;
        if (rows == 1) {
            if (stepLogits == null) {
                stepLogitsBuffer = ByteBuffer.allocateDirect(vocab * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
                stepLogits = OnnxTensor.createTensor(env, stepLogitsBuffer, new long[] {1, 1, vocab});
            }
            return stepLogits;
        }
        FloatBuffer b = ByteBuffer.allocateDirect(Math.multiplyExact(rows, vocab) * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        return track(created, OnnxTensor.createTensor(env, b, new long[] {1, rows, vocab}));
    }

    private float[] lastRow(OnnxTensor pinned) {
        FloatBuffer b = (FloatBuffer) pinned.getBufferRef().orElseThrow();
        int vocab = config.vocabSize();
        float[] row = new float[vocab];
        b.get(b.capacity() - vocab, row);
        return row;
    }

    private static OnnxTensor track(List<OnnxTensor> created, OnnxTensor t) {
        created.add(t);
        return t;
    }

    /** The previous step's present tensor, or at the start the state's zeros of past length 0 ([1, kv_heads, 0, head_dim]). */
    private OnnxTensorLike past(GenAiConfig.State state) throws OrtException, IOException {
        if (previous != null) {
            OnnxValue v = previous.get(state.present()).orElseThrow();
            return (OnnxTensor) v;
        }
        OnnxTensor empty = emptyPast.get(state.present());
        if (empty == null) {
            long[] shape = state.shapeAt(0);
            long elements = 1;
            for (long d : shape) {
                elements = Math.multiplyExact(elements, d);
            }
            // A direct buffer starts zeroed: zeros in float32, float16 and bfloat16 alike.
            ByteBuffer none = ByteBuffer.allocateDirect(Math.toIntExact(elements * (cacheType == OnnxJavaType.FLOAT ? 4 : 2)))
                    .order(ByteOrder.nativeOrder());
            empty = cacheType == OnnxJavaType.FLOAT ? OnnxTensor.createTensor(env, none.asFloatBuffer(), shape)
                    : OnnxTensor.createTensor(env, none, shape, cacheType);
            emptyPast.put(state.present(), empty);
        }
        return empty;
    }

    /** The logits output, checked to be [1, seq, vocab]. */
    private OnnxTensor logitsTensor(OrtSession.Result result) throws IOException {
        OnnxValue v = result.get(config.outputs().logits()).orElseThrow();
        if (!(v instanceof OnnxTensor t)) {
            throw new FormatException(session.model(), "logits output is not a tensor");
        }
        long[] shape = t.getInfo().getShape();
        if (shape.length != 3 || shape[0] != 1 || shape[2] != config.vocabSize()) {
            throw new FormatException(session.model(), "logits have shape " + Arrays.toString(shape) + ", expected [1, seq, "
                    + config.vocabSize() + "]");
        }
        return t;
    }

    private float[] lastRow(OrtSession.Result result) throws IOException {
        OnnxTensor t = logitsTensor(result);
        long[] shape = t.getInfo().getShape();
        int vocab = config.vocabSize();
        // getFloatBuffer copies the whole tensor (and widens fp16/bf16); only the last row is kept.
        java.nio.FloatBuffer all = t.getFloatBuffer();
        float[] row = new float[vocab];
        all.position((int) ((shape[1] - 1) * vocab));
        all.get(row);
        return row;
    }

    /** Every row of an output ORT allocated (fp16/bf16 logits), widened to float by {@code getFloatBuffer}. */
    private FloatBuffer allRows(OrtSession.Result result, int n) throws IOException {
        OnnxTensor t = logitsTensor(result);
        long[] shape = t.getInfo().getShape();
        if (shape[1] != n) {
            throw new FormatException(session.model(), "logits have " + shape[1] + " rows for " + n + " tokens fed");
        }
        FloatBuffer all = t.getFloatBuffer();
        all.rewind();
        return all.slice(0, (int) (shape[1] * shape[2]));
    }

    private void checkPresentLengths(OrtSession.Result result, int expected) throws IOException {
        for (GenAiConfig.State state : config.states()) {
            OnnxValue v = result.get(state.present()).orElseThrow();
            long[] shape = ((OnnxTensor) v).getInfo().getShape();
            long[] want = state.shapeAt(expected);
            if (!Arrays.equals(shape, want)) {
                throw new FormatException(session.model(), state.present() + " has shape " + Arrays.toString(shape) + ", expected "
                        + Arrays.toString(want));
            }
        }
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int cacheLength() {
        return cacheLength;
    }

    @Override
    public int contextLength() {
        return config.contextLength();
    }

    @Override
    public void reset() {
        if (previous != null) {
            previous.close();
            previous = null;
        }
        cacheLength = 0;
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        reset();
        emptyPast.values().forEach(OnnxTensor::close);
        emptyPast.clear();
        stepIds.tensor().close();
        stepPositions.tensor().close();
        if (stepLogits != null) {
            stepLogits.close();
        }
        if (ownsSession) {
            session.close();
        }
    }
}
