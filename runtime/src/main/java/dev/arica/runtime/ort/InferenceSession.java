package dev.arica.runtime.ort;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.arica.formats.FormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One ONNX model loaded into ONNX Runtime on the CPU or CUDA. {@link #run} checks input and output
 * names against the model's before any native call. Closed once; use after close is an
 * IllegalStateException. Runs may come from several threads (ORT sessions allow it); closing while a run
 * is in flight is the caller's error.
 */
public final class InferenceSession implements AutoCloseable {

    /**
     * How to open a session. {@code intraOpThreads} 0 leaves ORT's default (one per core).
     * {@code prepackWeights}: let ORT's CPU kernels repack constant weights when the session opens (a second
     * copy of every matrix, seconds for a large model); off, they are used in place from the mapped external
     * data, which decodes (one token at a time) about as fast.
     */
    public record Options(Device device, int intraOpThreads, int cudaDeviceId, boolean prepackWeights) {
        public Options(Device device, int intraOpThreads, int cudaDeviceId) {
            this(device, intraOpThreads, cudaDeviceId, false);
        }

        public Options {
            if (device == null) {
                throw new IllegalArgumentException("device is null");
            }
            if (intraOpThreads < 0 || cudaDeviceId < 0) {
                throw new IllegalArgumentException("intraOpThreads " + intraOpThreads + ", cudaDeviceId " + cudaDeviceId);
            }
        }

        public static Options of(Device device) {
            return new Options(device, 0, 0);
        }
    }

    /** A model input or output: name, element type (ORT's name, e.g. INT64, FLOAT) and shape (-1 dynamic). */
    public record TensorSpec(String name, String type, long[] shape) {}

    private final Path model;
    private final OrtSession session;
    private final ExecutionProvider provider;
    private final String providerNote;
    private final Map<String, TensorSpec> inputs;
    private final Map<String, TensorSpec> outputs;
    private final AtomicBoolean closed = new AtomicBoolean();

    private InferenceSession(Path model, OrtSession session, ExecutionProvider provider, String providerNote)
            throws FormatException {
        this.model = model;
        this.session = session;
        this.provider = provider;
        this.providerNote = providerNote;
        try {
            this.inputs = specs(session.getInputInfo());
            this.outputs = specs(session.getOutputInfo());
        } catch (OrtException e) {
            throw new FormatException(model, "ONNX Runtime cannot describe its inputs and outputs: " + oneLine(e));
        }
    }

    /**
     * Opens {@code model} with ORT started by {@link OrtRuntime#get()}. {@link Device#AUTO} takes CUDA when
     * {@link CudaProbe} finds it usable and ORT accepts it, else the CPU ({@link #providerNote()} says why);
     * {@link Device#CUDA} that cannot be had is a {@link DeviceUnavailableException}.
     */
    public static InferenceSession open(Path model, Options options) throws IOException {
        return open(model, options, OrtRuntime.get(), CudaProbe::probe);
    }

    /** The probe as a parameter, so tests can pretend CUDA is there or not. */
    interface Probe {
        CudaProbe.Result probe();
    }

    static InferenceSession open(Path model, Options options, OrtRuntime ort, Probe probe) throws IOException {
        if (!Files.isRegularFile(model)) {
            throw new NoSuchFileException(model.toString(), null, "no such model file");
        }
        String note = "";
        if (options.device() != Device.CPU) {
            CudaProbe.Result cuda = probe.probe();
            Exception failure = null;
            if (cuda.available()) {
                try {
                    return new InferenceSession(model, create(model, options, ort, true), ExecutionProvider.CUDA, "");
                } catch (OrtException | IOException e) {
                    failure = e;
                    note = "CUDA provider failed: " + oneLine(e);
                }
            } else {
                note = cuda.reason();
            }
            if (options.device() == Device.CUDA) {
                throw new DeviceUnavailableException("CUDA was asked for but cannot be used: " + note, failure);
            }
        }
        try {
            return new InferenceSession(model, create(model, options, ort, false), ExecutionProvider.CPU, note);
        } catch (OrtException e) {
            throw new FormatException(model, "ONNX Runtime cannot load it: " + oneLine(e));
        }
    }

    private static OrtSession create(Path model, Options options, OrtRuntime ort, boolean cuda) throws OrtException, IOException {
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            if (options.intraOpThreads() > 0) {
                so.setIntraOpNumThreads(options.intraOpThreads());
            }
            so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            so.addConfigEntry("session.disable_prepacking", options.prepackWeights() ? "0" : "1");
            // A decoder's inputs change shape at every step: ORT would trace and keep one memory pattern per shape.
            so.setMemoryPatternOptimization(false);
            // ORT turns DequantizeLinear + MatMul into MatMulNBits at accuracy level 4 (int8 activations) unless told:
            // a portable graph computes what its operators say (the MatMulNBits export chooses its level itself).
            so.addConfigEntry("session.qdq_matmulnbits_accuracy_level", "0");
            // Diagnostics (issue 17, where the time goes): ORT's per-node trace, written as PREFIX_<date>.json when
            // the session closes; bench/ort-profile.py sums it per operator.
            String profile = System.getenv("ARICA_ORT_PROFILE");
            if (profile != null && !profile.isBlank()) {
                so.enableProfiling(profile);
            }
            // Diagnostics too (issue 17, the levers measured one by one): ORT session config entries, "key=value;...".
            for (Map.Entry<String, String> e : configEntries(System.getenv("ARICA_ORT_CONFIG")).entrySet()) {
                so.addConfigEntry(e.getKey(), e.getValue());
            }
            if (cuda) {
                ort.prepareCuda();
                so.addCUDA(options.cudaDeviceId());
            }
            return ort.environment().createSession(model.toString(), so);
        }
    }

    /**
     * The entries of {@code ARICA_ORT_CONFIG} ("session.intra_op.allow_spinning=0;session.disable_prepacking=1"), in
     * order; empty for null or blank. A malformed entry is refused, naming it, rather than silently measured without.
     */
    static Map<String, String> configEntries(String spec) {
        Map<String, String> entries = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return entries;
        }
        for (String entry : spec.split(";")) {
            int eq = entry.indexOf('=');
            if (entry.isBlank()) {
                continue;
            }
            if (eq <= 0 || eq == entry.length() - 1) {
                throw new IllegalArgumentException("ARICA_ORT_CONFIG: '" + entry.strip() + "' is not key=value");
            }
            entries.put(entry.substring(0, eq).strip(), entry.substring(eq + 1).strip());
        }
        return entries;
    }

    public Path model() {
        return model;
    }

    /** The provider the session runs on. */
    public ExecutionProvider provider() {
        return provider;
    }

    /** Why an AUTO session is not on CUDA (one line), or empty. */
    public String providerNote() {
        return providerNote;
    }

    /** The model's inputs in declaration order. */
    public Map<String, TensorSpec> inputs() {
        return inputs;
    }

    public Map<String, TensorSpec> outputs() {
        return outputs;
    }

    /**
     * Runs the model. {@code feeds} must name exactly the model's inputs; {@code wanted} (null: all) only
     * its outputs. The result's values are the caller's to close (closing the result closes them).
     */
    public OrtSession.Result run(Map<String, ? extends OnnxTensorLike> feeds, Set<String> wanted) throws IOException {
        if (closed.get()) {
            throw new IllegalStateException(model + ": session is closed");
        }
        checkNames(feeds.keySet(), wanted);
        try {
            return wanted == null ? session.run(feeds) : session.run(feeds, wanted);
        } catch (OrtException e) {
            throw new IOException(model + ": ONNX Runtime run failed: " + oneLine(e), e);
        }
    }

    /**
     * Runs the model, writing the {@code pinned} outputs into the caller's tensors (ORT checks their shapes)
     * and returning the {@code wanted} ones, which may not include a pinned one. The result does not own the
     * pinned tensors.
     */
    public OrtSession.Result run(Map<String, ? extends OnnxTensorLike> feeds, Set<String> wanted,
            Map<String, ? extends OnnxValue> pinned) throws IOException {
        if (closed.get()) {
            throw new IllegalStateException(model + ": session is closed");
        }
        Set<String> outputs = new java.util.HashSet<>(wanted);
        outputs.addAll(pinned.keySet());
        checkNames(feeds.keySet(), outputs);
        try {
            return session.run(feeds, wanted, pinned);
        } catch (OrtException e) {
            throw new IOException(model + ": ONNX Runtime run failed: " + oneLine(e), e);
        }
    }

    /** Throws IllegalArgumentException naming what is missing or unknown, before ORT sees the call. */
    private void checkNames(Set<String> given, Set<String> wanted) {
        // A decoder feeds the same names at every step: checked once, then compared.
        CheckedNames last = lastChecked;
        if (last != null && last.given().equals(given) && java.util.Objects.equals(last.wanted(), wanted)) {
            return;
        }
        List<String> problems = nameProblems(given, wanted);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(model + ": " + String.join("; ", problems));
        }
        lastChecked = new CheckedNames(Set.copyOf(given), wanted == null ? null : Set.copyOf(wanted));
    }

    /** The names of the last run that passed {@link #checkNames}. */
    private record CheckedNames(Set<String> given, Set<String> wanted) {}

    private volatile CheckedNames lastChecked;

    /**
     * What is wrong with feeding exactly {@code given} and asking for {@code wanted} (null: all outputs):
     * inputs missing or unknown, outputs unknown. Empty when nothing is.
     */
    public List<String> nameProblems(Set<String> given, Set<String> wanted) {
        Set<String> missing = new TreeSet<>(inputs.keySet());
        missing.removeAll(given);
        Set<String> unknown = new TreeSet<>(given);
        unknown.removeAll(inputs.keySet());
        List<String> problems = new ArrayList<>();
        if (!missing.isEmpty()) {
            problems.add("inputs missing: " + missing);
        }
        if (!unknown.isEmpty()) {
            problems.add("inputs the model does not have: " + unknown + " (it has " + inputs.keySet() + ")");
        }
        if (wanted != null) {
            Set<String> noSuch = new TreeSet<>(wanted);
            noSuch.removeAll(outputs.keySet());
            if (!noSuch.isEmpty()) {
                problems.add("outputs the model does not have: " + noSuch + " (it has " + outputs.keySet() + ")");
            }
        }
        return problems;
    }

    @Override
    public void close() throws IOException {
        if (closed.compareAndSet(false, true)) {
            try {
                session.close();
            } catch (OrtException e) {
                throw new IOException(model + ": closing the ONNX Runtime session failed: " + oneLine(e), e);
            }
        }
    }

    private static Map<String, TensorSpec> specs(Map<String, NodeInfo> info) {
        Map<String, TensorSpec> out = new LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : info.entrySet()) {
            if (e.getValue().getInfo() instanceof TensorInfo t) {
                out.put(e.getKey(), new TensorSpec(e.getKey(), t.type.name(), t.getShape()));
            } else {
                out.put(e.getKey(), new TensorSpec(e.getKey(), e.getValue().getInfo().toString(), new long[0]));
            }
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    static String oneLine(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replaceAll("\\s+", " ").trim();
    }

    @Override
    public String toString() {
        return "InferenceSession[" + model + ", " + provider + "]";
    }

    /** Input names in declaration order. */
    public Set<String> inputNames() {
        return new LinkedHashSet<>(inputs.keySet());
    }
}
