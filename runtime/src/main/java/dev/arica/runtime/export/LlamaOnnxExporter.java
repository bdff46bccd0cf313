package dev.arica.runtime.export;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AtomicOutput;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Json;
import dev.arica.formats.MappedMemory;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.quantize.Quantizer;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Exports a Hugging Face Llama checkpoint (or anything {@link Checkpoint#open} presents as one, such as a
 * llama2.c import) as an ONNX decoder with a key/value cache, in a directory that holds everything a
 * generator needs: {@value #MODEL_FILE} and its external data, config.json, generation_config.json, the
 * tokenizer files, and {@value #GENAI_FILE} describing the graph's inputs and outputs. Weights stream from
 * the input's mapping to the data file one tensor at a time (cast in small chunks when asked), so memory
 * stays flat whatever the model's size; the directory appears only when complete.
 */
public final class LlamaOnnxExporter {

    public static final String MODEL_FILE = "model.onnx";
    public static final String GENAI_FILE = "arica-genai.json";
    /** 2: the schema GenAiConfig reads (num_kv_heads, dtype, {i} name templates); 1 used other keys. */
    public static final int GENAI_FORMAT_VERSION = 2;

    /** Bytes copied per write from a mapping, then released: 16 MiB. */
    private static final long COPY_SLICE = 16L << 20;

    /** Elements cast per write: a few MB of buffer. */
    private static final int CAST_CHUNK = 1 << 20;

    /** Tokenizer files a generator looks for, most specific first. */
    private static final List<String> TOKENIZERS = List.of("tokenizer.json", "tokenizer.llama2c.bin", "tokenizer.model");

    /** Which operators the graph may use; both have the same inputs, outputs and results. */
    public enum Flavour {
        /** Standard ONNX operators only, opset 17: any ONNX Runtime build and execution provider, other runtimes. */
        STANDARD("standard"),
        /**
         * ONNX Runtime's fused operators (com.microsoft GroupQueryAttention, RotaryEmbedding,
         * SkipSimplifiedLayerNormalization, QuickGelu; SimplifiedLayerNormalization): ONNX Runtime only.
         */
        ORT_OPTIMIZED("ort-optimized");

        /** The name arica-genai.json and the model's metadata record. */
        public final String id;

        Flavour(String id) {
            this.id = id;
        }
    }

    /** MatMulNBits' accuracy_level unless asked otherwise: int8 activations, as llama.cpp computes. */
    public static final int DEFAULT_ACCURACY_LEVEL = 4;

    /** Model metadata key describing the quantized weights, when there are any. */
    public static final String QUANTIZATION_METADATA = "arica.quantization";

    /** Model metadata key naming the flavour. */
    public static final String FLAVOUR_METADATA = "arica.flavour";

    /**
     * @param weightType F32, or F16 to halve the files: f16 weights are cast to float32 inside the graph (ONNX
     *     Runtime folds the casts when it loads the model), so activations and the cache stay float32 and
     *     results stay close to the f32 export on every execution provider. For an .arica input it applies to
     *     the float tensors; quantized projections keep their stored codes and fp16 scales.
     * @param portable quantized projections as standard DequantizeLinear (opset 21) + MatMul instead of ONNX
     *     Runtime's MatMulNBits: for runtimes without contrib operators
     * @param accuracyLevel MatMulNBits' accuracy_level: 4 (the default) quantizes the activations to int8 in blocks
     *     for integer dot products, as llama.cpp does with q8_0/q4_0 weights (ONNX Runtime's only fast CPU path for
     *     8-bit weights); 0 computes in float32 with the stored values exactly
     * @param replace whether an existing non-empty output directory may be replaced
     */
    public record Options(DType weightType, Flavour flavour, boolean portable, int accuracyLevel,
            OnnxWriter.Options onnx, boolean replace) {
        public Options {
            if (weightType != DType.F32 && weightType != DType.F16) {
                throw new IllegalArgumentException("ONNX export writes f32 or f16 weights, not " + weightType);
            }
            if (accuracyLevel < 0 || accuracyLevel > 4) {
                throw new IllegalArgumentException("MatMulNBits accuracy_level is 0 to 4, not " + accuracyLevel);
            }
        }

        public static Options defaults() {
            return new Options(DType.F32, Flavour.STANDARD, false, DEFAULT_ACCURACY_LEVEL, OnnxWriter.Options.defaults(), false);
        }

        public Options withWeightType(DType t) {
            return new Options(t, flavour, portable, accuracyLevel, onnx, replace);
        }

        public Options withReplace(boolean r) {
            return new Options(weightType, flavour, portable, accuracyLevel, onnx, r);
        }

        public Options withFlavour(Flavour f) {
            return new Options(weightType, f, portable, accuracyLevel, onnx, replace);
        }

        public Options withPortable(boolean p) {
            return new Options(weightType, flavour, p, accuracyLevel, onnx, replace);
        }

        public Options withAccuracyLevel(int level) {
            return new Options(weightType, flavour, portable, level, onnx, replace);
        }

        public Options withOnnx(OnnxWriter.Options o) {
            return new Options(weightType, flavour, portable, accuracyLevel, o, replace);
        }
    }

    /**
     * What was written.
     *
     * @param quantization the quantized weights and how they run ("q8_0 x 42 (MatMulNBits, accuracy_level 0)"),
     *     empty for a float export
     */
    public record Result(Path directory, LlamaConfig config, int nodes, int weights, long weightBytes,
            String quantization, List<String> files) {}

    private LlamaOnnxExporter() {}

    public static Result export(Checkpoint in, Path out, Options options, Progress progress) throws IOException {
        LlamaConfig config = LlamaConfig.of(in);
        Path input = in.path().toAbsolutePath().normalize();
        Path target = out.toAbsolutePath().normalize();
        if (input.startsWith(target)) {
            throw new IllegalArgumentException("output " + out + " holds the input " + in.path()
                    + "; export to another directory");
        }
        Map<String, TensorInfo> stored = new HashMap<>();
        in.tensors().forEach(t -> stored.put(t.name(), t));
        Map<String, LlamaGraph.QuantizedWeight> quantized = new LinkedHashMap<>();
        if (in instanceof AricaCheckpoint a) {
            for (Map.Entry<String, long[]> e : config.weightShapes().entrySet()) {
                long[] shape = e.getValue();
                a.quantized(e.getKey()).filter(l -> shape.length == 2).ifPresent(l -> quantized.put(e.getKey(),
                        new LlamaGraph.QuantizedWeight(e.getKey(), l, shape[0], shape[1])));
            }
        }
        LlamaGraph.Built graph = LlamaGraph.build(config, options.weightType(), options.flavour(),
                new LlamaGraph.Quantization(quantized, options.portable(), options.accuracyLevel()));
        List<TensorInfo> weights = new ArrayList<>();
        for (Map.Entry<String, long[]> e : config.weightShapes().entrySet()) {
            if (!graph.floatWeights().contains(e.getKey())) {
                continue;
            }
            if (!quantized.containsKey(e.getKey())) {
                FloatCast.check(e.getKey(), stored.get(e.getKey()).dtype(), options.weightType());
            }
            weights.add(new TensorInfo(e.getKey(), options.weightType(), e.getValue()));
        }
        List<OnnxWriter.Initializer> initializers = new ArrayList<>();
        weights.forEach(t -> initializers.add(OnnxWriter.Initializer.of(t)));
        graph.computed().forEach(t -> initializers.add(OnnxWriter.Initializer.of(t.info())));
        graph.planes().forEach(p -> initializers.add(p.initializer()));
        ModelProto.Builder mb = ModelProto.newBuilder().setIrVersion(graph.irVersion());
        graph.opsets().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> mb.addOpsetImport(
                OperatorSetIdProto.newBuilder().setDomain(e.getKey()).setVersion(e.getValue())));
        mb.setProducerName("arica")
                .setProducerVersion(version())
                .setDocString("Llama decoder with key/value cache, exported by arica from " + in.path().getFileName())
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey("arica.source_format").setValue(in.format()))
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey(FLAVOUR_METADATA).setValue(options.flavour().id));
        if (!quantized.isEmpty()) {
            mb.addMetadataProps(StringStringEntryProto.newBuilder().setKey(QUANTIZATION_METADATA)
                    .setValue(quantizationSummary(quantized.values(), options)));
        }
        ModelProto model = mb.setGraph(graph.graph()).build();
        long all = initializers.stream().mapToLong(OnnxWriter.Initializer::byteSize).sum();
        long total = all - graph.computed().stream().mapToLong(c -> c.info().byteSize()).sum();

        List<String> files = new ArrayList<>();
        progress.start("export-onnx", all);
        try (AtomicOutput dir = AtomicOutput.directory(out, options.replace())) {
            Path tmp = dir.temp();
            Set<String> ours = Set.of(MODEL_FILE, MODEL_FILE + OnnxWriter.DATA_SUFFIX, GENAI_FILE, "config.json");
            for (AuxFile a : in.auxFiles()) {
                if (!ours.contains(a.name())) {
                    a.writeInto(tmp);
                    files.add(a.name());
                }
            }
            ObjectNode cfg = in.config().orElseThrow().deepCopy();
            cfg.put("torch_dtype", Converter.torchName(options.weightType()));
            Files.writeString(tmp.resolve("config.json"), Json.MAPPER.writeValueAsString(cfg) + "\n");
            try (OnnxWriter w = OnnxWriter.unmanaged(tmp.resolve(MODEL_FILE), model, initializers, options.onnx());
                    Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate((long) CAST_CHUNK * 4, 64);
                for (TensorInfo t : weights) {
                    LlamaGraph.QuantizedWeight q = quantized.get(t.name());
                    if (q == null) {
                        stream(in.tensor(t.name()), t.dtype(), w, buffer, progress);
                    } else {
                        dequantize((AricaCheckpoint) in, q, t.dtype(), w, buffer, progress);
                    }
                }
                for (LlamaGraph.Computed t : graph.computed()) {
                    compute(t, w, buffer, progress);
                }
                if (!graph.planes().isEmpty()) {
                    writePlanes((AricaCheckpoint) in, graph.planes(), w, buffer, progress);
                }
                w.commit();
            }
            Files.writeString(tmp.resolve(GENAI_FILE), Json.MAPPER.writeValueAsString(
                    genai(config, options, graph, quantized.values(), files)) + "\n");
            dir.commit();
        } finally {
            progress.finish();
        }
        List<String> written = new ArrayList<>(List.of("config.json", GENAI_FILE, MODEL_FILE));
        if (Files.exists(out.resolve(MODEL_FILE + OnnxWriter.DATA_SUFFIX))) {
            written.add(MODEL_FILE + OnnxWriter.DATA_SUFFIX);
        }
        written.addAll(files);
        return new Result(out, config, model.getGraph().getNodeCount(), weights.size() + quantized.size(), total,
                quantized.isEmpty() ? "" : quantizationSummary(quantized.values(), options), List.copyOf(written));
    }

    /** Writes {@code src} as {@code to}: straight from its mapping, or cast chunk by chunk through {@code buffer}. */
    private static void stream(Tensor src, DType to, OnnxWriter w, MemorySegment buffer, Progress progress)
            throws IOException {
        w.begin(src.name());
        DType from = src.info().dtype();
        if (from == to) {
            for (MemorySegment part : src.parts()) {
                // In slices, each dropped from the resident set once written: a 260 MB embedding table is never
                // resident whole.
                for (long off = 0; off < part.byteSize(); off += COPY_SLICE) {
                    MemorySegment slice = part.asSlice(off, Math.min(COPY_SLICE, part.byteSize() - off));
                    w.write(slice);
                    MappedMemory.release(slice);
                    progress.advance(slice.byteSize());
                }
            }
            return;
        }
        // Parts (rows, for a permuted import) are cast into one buffer and written when it is full.
        long capacity = buffer.byteSize() / to.byteSize();
        long filled = 0;
        for (MemorySegment part : src.parts()) {
            long n = part.byteSize() / from.byteSize();
            for (long e = 0; e < n; ) {
                long m = Math.min(n - e, capacity - filled);
                FloatCast.cast(from, part.asSlice(from.bytesFor(e), from.bytesFor(m)), to,
                        buffer.asSlice(to.bytesFor(filled), to.bytesFor(m)), m);
                filled += m;
                e += m;
                if (filled == capacity) {
                    w.write(buffer.asSlice(0, to.bytesFor(filled)));
                    progress.advance(to.bytesFor(filled));
                    filled = 0;
                }
            }
            MappedMemory.release(part);
        }
        if (filled > 0) {
            w.write(buffer.asSlice(0, to.bytesFor(filled)));
            progress.advance(to.bytesFor(filled));
        }
    }

    /**
     * Writes a quantized tensor the graph reads as floats (an embedding table for Gather) dequantized, rows at a
     * time through {@code buffer}: the stored values exactly, in float32 or rounded to f16.
     */
    private static void dequantize(AricaCheckpoint in, LlamaGraph.QuantizedWeight q, DType to, OnnxWriter w,
            MemorySegment buffer, Progress progress) throws IOException {
        w.begin(q.name());
        Quantizer quantizer = Quantizer.of(q.layout());
        long rowsPerChunk = Math.max(1, buffer.byteSize() / (q.k() * Float.BYTES));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stored = in.stored(q.name(), arena);
            MemorySegment f32 = arena.allocate(q.k() * Float.BYTES * rowsPerChunk);
            MemorySegment cast = to == DType.F32 ? f32 : arena.allocate(q.k() * to.byteSize() * rowsPerChunk);
            for (long r = 0; r < q.n(); r += rowsPerChunk) {
                long rows = Math.min(rowsPerChunk, q.n() - r);
                long rowBytes = q.layout().rowBytes(q.k());
                quantizer.dequantize(stored.asSlice(r * rowBytes, rows * rowBytes), rows, q.k(), f32);
                long elements = rows * q.k();
                MemorySegment out;
                if (to == DType.F32) {
                    out = f32.asSlice(0, elements * Float.BYTES);
                } else {
                    FloatCast.cast(DType.F32, f32.asSlice(0, elements * Float.BYTES), to, cast, elements);
                    out = cast.asSlice(0, to.bytesFor(elements));
                }
                w.write(out);
                progress.advance(out.byteSize());
                MappedMemory.release(stored.asSlice(r * rowBytes, rows * rowBytes));
            }
        }
    }

    /**
     * Writes the planes repacked from quantized weights, each weight's stored bytes read once per plane
     * (decompressed once per weight when compressed).
     */
    private static void writePlanes(AricaCheckpoint in, List<LlamaGraph.Plane> planes, OnnxWriter w, MemorySegment buffer,
            Progress progress) throws IOException {
        Arena arena = null;
        String current = null;
        MemorySegment stored = null;
        MatMulNBitsWeights nbits = null;
        DequantizeLinearWeights dq = null;
        MatMulNBitsWeights.Sink sink = bytes -> {
            w.write(bytes);
            progress.advance(bytes.byteSize());
        };
        try {
            for (LlamaGraph.Plane p : planes) {
                LlamaGraph.QuantizedWeight q = p.weight();
                if (!q.name().equals(current)) {
                    if (arena != null) {
                        // Done with the previous weight: its mapped pages leave the resident set (memory stays flat).
                        MappedMemory.release(stored);
                        arena.close();
                    }
                    arena = Arena.ofConfined();
                    stored = in.stored(q.name(), arena);
                    current = q.name();
                    nbits = new MatMulNBitsWeights(q.layout(), q.n(), q.k());
                    dq = new DequantizeLinearWeights(q.layout(), q.n(), q.k());
                }
                w.begin(p.initializer().name());
                switch (p.kind()) {
                    case NBITS_CODES -> nbits.writeCodes(stored, buffer, sink);
                    case NBITS_SCALES -> nbits.writeScales(stored, buffer, sink);
                    case NBITS_ZERO_POINTS -> nbits.writeZeroPoints(stored, buffer, sink);
                    case DQ_CODES -> dq.writeCodes(stored, buffer, sink);
                    case DQ_SCALES -> dq.writeScales(stored, buffer, sink);
                    case DQ_ZERO_POINTS -> dq.writeZeroPoints(stored, buffer, sink);
                }
            }
        } finally {
            if (arena != null) {
                MappedMemory.release(stored);
                arena.close();
            }
        }
    }

    /** "q8_0 x 56 (MatMulNBits, accuracy_level 0)": the stored schemes and how the graph runs them. */
    private static String quantizationSummary(java.util.Collection<LlamaGraph.QuantizedWeight> weights, Options options) {
        Map<String, Integer> schemes = new java.util.TreeMap<>();
        weights.forEach(q -> schemes.merge(q.layout().describe(), 1, Integer::sum));
        StringBuilder b = new StringBuilder();
        schemes.forEach((k, v) -> b.append(b.isEmpty() ? "" : ", ").append(k).append(" x ").append(v));
        return b + (options.portable() ? " (DequantizeLinear + MatMul)"
                : " (MatMulNBits, accuracy_level " + options.accuracyLevel() + ")");
    }

    /** Writes a computed float32 initializer, filled chunk by chunk through {@code buffer}. */
    private static void compute(LlamaGraph.Computed t, OnnxWriter w, MemorySegment buffer, Progress progress)
            throws IOException {
        w.begin(t.info().name());
        long n = t.info().elements();
        long capacity = buffer.byteSize() / Float.BYTES;
        for (long e = 0; e < n; ) {
            long m = Math.min(n - e, capacity);
            for (long k = 0; k < m; k++) {
                buffer.setAtIndex(FloatCast.F32_LE, k, (float) t.element().applyAsDouble(e + k));
            }
            w.write(buffer.asSlice(0, m * Float.BYTES));
            progress.advance(m * Float.BYTES);
            e += m;
        }
    }

    /** The description a generator reads instead of inspecting the graph. */
    static ObjectNode genai(LlamaConfig c, Options options, LlamaGraph.Built graph,
            java.util.Collection<LlamaGraph.QuantizedWeight> quantized, List<String> files) {
        ObjectNode g = Json.MAPPER.createObjectNode();
        g.put("format", "arica-genai");
        g.put("format_version", GENAI_FORMAT_VERSION);
        g.put("model_type", "llama");
        g.put("model", MODEL_FILE);
        g.put("flavour", options.flavour().id);
        g.put("opset", graph.opsets().get(""));
        g.put("weight_dtype", options.weightType().name().toLowerCase(java.util.Locale.ROOT));
        if (quantized.isEmpty()) {
            g.putNull("quantization");
        } else {
            ObjectNode q = g.putObject("quantization");
            q.put("operator", options.portable() ? "DequantizeLinear" : "MatMulNBits");
            if (!options.portable()) {
                q.put("accuracy_level", options.accuracyLevel());
            }
            q.put("summary", quantizationSummary(quantized, options));
            ObjectNode per = q.putObject("weights");
            quantized.forEach(w -> per.put(w.name(), w.layout().describe()));
        }
        g.put("activation_dtype", "f32");
        g.put("num_layers", c.layers());
        g.put("hidden_size", c.hidden());
        g.put("num_attention_heads", c.heads());
        g.put("num_kv_heads", c.kvHeads());
        g.put("head_dim", c.headDim());
        g.put("vocab_size", c.vocab());
        g.put("context_length", c.maxPositions());
        // The past/present key/value type; the graph keeps the cache in float32 whatever the weights.
        g.put("dtype", "float32");
        if (c.bosTokenId() == null) {
            g.putNull("bos_token_id");
        } else {
            g.put("bos_token_id", c.bosTokenId());
        }
        ArrayNode eos = g.putArray("eos_token_ids");
        c.eosTokenIds().forEach(eos::add);
        ObjectNode in = g.putObject("inputs");
        in.put("input_ids", DecoderIo.INPUT_IDS);
        in.put("attention_mask", DecoderIo.ATTENTION_MASK);
        in.put("position_ids", DecoderIo.POSITION_IDS);
        in.put("past_key", DecoderIo.template(DecoderIo.PAST_KEY));
        in.put("past_value", DecoderIo.template(DecoderIo.PAST_VALUE));
        ObjectNode outs = g.putObject("outputs");
        outs.put("logits", DecoderIo.LOGITS);
        outs.put("present_key", DecoderIo.template(DecoderIo.PRESENT_KEY));
        outs.put("present_value", DecoderIo.template(DecoderIo.PRESENT_VALUE));
        ObjectNode kv = g.putObject("kv_cache");
        kv.put("dtype", "float32");
        ArrayNode shape = kv.putArray("shape");
        shape.add(LlamaGraph.BATCH).add(c.kvHeads()).add(LlamaGraph.PAST).add(c.headDim());
        String tokenizer = TOKENIZERS.stream().filter(files::contains).findFirst().orElse(null);
        if (tokenizer == null) {
            g.putNull("tokenizer");
        } else {
            g.put("tokenizer", tokenizer);
        }
        ArrayNode f = g.putArray("files");
        files.forEach(f::add);
        return g;
    }

    private static String version() {
        String v = LlamaOnnxExporter.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
