package dev.arica.runtime.export;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.io.MappedMemory;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.EncoderConfig;
import dev.arica.formats.model.ModelConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.RecurrentConfig;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.quantize.Quantizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Exports a checkpoint of a described family (Llama, Mistral, Gemma-2, GPT-2, Falcon: anything {@link Checkpoint#open}
 * presents as one, such as a llama2.c import or an .arica file) as an ONNX decoder with a key/value cache, in a directory that holds everything a
 * generator needs: {@value #MODEL_FILE} and its external data, config.json, generation_config.json, the
 * tokenizer files, and {@value #GENAI_FILE} describing the graph's inputs and outputs. Weights stream from
 * the input's mapping to the data file one tensor at a time (cast in small chunks when asked), so memory
 * stays flat whatever the model's size; the directory appears only when complete.
 */
public final class OnnxExporter {

    public static final String MODEL_FILE = "model.onnx";
    public static final String GENAI_FILE = "arica-genai.json";
    /** 2: the schema GenAiConfig reads (num_kv_heads, dtype, {i} name templates); 1 used other keys. */
    public static final int GENAI_FORMAT_VERSION = 2;

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
     * @param adapter a LoRA adapter added as a low-rank float branch to the projections it adapts (x A^T B^T
     *     scaling added to each one's output), leaving the base's weights as stored; null for none
     * @param linearInputs also output the input of every projection ({@link LinearInputs}), for calibration
     */
    public record Options(DType weightType, Flavour flavour, boolean portable, int accuracyLevel,
            OnnxWriter.Options onnx, boolean replace, LoraAdapter adapter, boolean linearInputs) {
        public Options {
            if (weightType != DType.F32 && weightType != DType.F16) {
                throw new IllegalArgumentException("ONNX export writes f32 or f16 weights, not " + weightType);
            }
            if (accuracyLevel < 0 || accuracyLevel > 4) {
                throw new IllegalArgumentException("MatMulNBits accuracy_level is 0 to 4, not " + accuracyLevel);
            }
        }

        public static Options defaults() {
            return new Options(DType.F32, Flavour.STANDARD, false, DEFAULT_ACCURACY_LEVEL, OnnxWriter.Options.defaults(), false,
                    null, false);
        }

        public Options withWeightType(DType t) {
            return new Options(t, flavour, portable, accuracyLevel, onnx, replace, adapter, linearInputs);
        }

        public Options withReplace(boolean r) {
            return new Options(weightType, flavour, portable, accuracyLevel, onnx, r, adapter, linearInputs);
        }

        public Options withFlavour(Flavour f) {
            return new Options(weightType, f, portable, accuracyLevel, onnx, replace, adapter, linearInputs);
        }

        public Options withPortable(boolean p) {
            return new Options(weightType, flavour, p, accuracyLevel, onnx, replace, adapter, linearInputs);
        }

        public Options withAccuracyLevel(int level) {
            return new Options(weightType, flavour, portable, level, onnx, replace, adapter, linearInputs);
        }

        public Options withAdapter(LoraAdapter a) {
            return new Options(weightType, flavour, portable, accuracyLevel, onnx, replace, a, linearInputs);
        }

        public Options withOnnx(OnnxWriter.Options o) {
            return new Options(weightType, flavour, portable, accuracyLevel, o, replace, adapter, linearInputs);
        }

        public Options withLinearInputs(boolean l) {
            return new Options(weightType, flavour, portable, accuracyLevel, onnx, replace, adapter, l);
        }
    }

    /**
     * What was written.
     *
     * @param quantization the quantized weights and how they run ("q8_0 x 42 (MatMulNBits, accuracy_level 0)"),
     *     empty for a float export
     */
    public record Result(Path directory, ModelConfig config, int nodes, int weights, long weightBytes,
            String quantization, List<String> files) {}

    private OnnxExporter() {}

    public static Result export(Checkpoint in, Path out, Options options, Progress progress) throws IOException {
        ModelDescription description = ModelDescription.of(in, "ONNX export");
        if (description.config() instanceof RecurrentConfig) {
            // The recurrent graph has standard operators only: there is no other flavour to record.
            options = options.withFlavour(Flavour.STANDARD);
        }
        ModelConfig config = description.config();
        AtomicOutput.refuseOverInput(out, in.path(), in.dataFiles());
        Map<String, TensorInfo> stored = new HashMap<>();
        in.tensors().forEach(t -> stored.put(t.name(), t));
        Map<String, DecoderGraph.QuantizedWeight> quantized = new LinkedHashMap<>();
        if (in instanceof QuantizedCheckpoint a) {
            for (TensorSpec t : description.tensors().specs()) {
                long[] shape = t.shape();
                // A Conv1D weight is stored as its transpose: its rows are output features, as MatMulNBits reads.
                a.quantizedStorage(t.name()).filter(q -> shape.length == 2).ifPresent(q -> quantized.put(t.name(),
                        new DecoderGraph.QuantizedWeight(t.name(), q.layout(), q.storedShape(shape)[0],
                                q.storedShape(shape)[1], q.permuted())));
            }
        }
        Map<String, DecoderGraph.LoraBranch> branches = options.adapter() == null ? Map.of()
                : AdapterBranches.of(description, options.adapter());
        DecoderGraph.Quantization quantization = new DecoderGraph.Quantization(quantized, options.portable(),
                options.accuracyLevel());
        DecoderGraph.Built graph = switch (description.config()) {
            case DecoderConfig d -> DecoderGraph.build(description, options.weightType(), options.flavour(), quantization, branches);
            case RecurrentConfig r -> RecurrentGraph.build(description, options.weightType(), quantization, branches);
            case EncoderConfig e -> EncoderGraph.build(description, options.weightType(), options.flavour(), quantization, branches);
        };
        if (options.linearInputs()) {
            LinearInputs.declare(graph.graph(), graph.linearInputs());
        }
        List<TensorInfo> weights = new ArrayList<>();
        for (TensorSpec t : description.tensors().specs()) {
            if (!graph.floatWeights().contains(t.name())) {
                continue;
            }
            if (!quantized.containsKey(t.name())) {
                FloatCast.check(t.name(), stored.get(t.name()).dtype(), options.weightType());
            }
            weights.add(new TensorInfo(t.name(), options.weightType(), t.shape()));
        }
        // The adapter's factors, float initializers named as in the adapter file.
        List<TensorInfo> factors = new ArrayList<>();
        for (DecoderGraph.LoraBranch b : branches.values()) {
            for (String f : List.of(b.a(), b.b())) {
                TensorInfo t = options.adapter().weights().tensors().stream().filter(x -> x.name().equals(f)).findFirst()
                        .orElseThrow();
                FloatCast.check(f, t.dtype(), options.weightType());
                factors.add(new TensorInfo(f, options.weightType(), t.shape()));
            }
        }
        List<OnnxWriter.Initializer> initializers = new ArrayList<>();
        weights.forEach(t -> initializers.add(OnnxWriter.Initializer.of(t)));
        factors.forEach(t -> initializers.add(OnnxWriter.Initializer.of(t)));
        graph.computed().forEach(t -> initializers.add(OnnxWriter.Initializer.of(t.info())));
        graph.planes().forEach(p -> initializers.add(p.initializer()));
        ModelProto.Builder mb = ModelProto.newBuilder().setIrVersion(graph.irVersion());
        graph.opsets().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> mb.addOpsetImport(
                OperatorSetIdProto.newBuilder().setDomain(e.getKey()).setVersion(e.getValue())));
        mb.setProducerName("arica")
                .setProducerVersion(version())
                .setDocString(docString(description, in.path().getFileName().toString()))
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey("arica.source_format").setValue(in.format()))
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey(FLAVOUR_METADATA).setValue(options.flavour().id));
        if (!branches.isEmpty()) {
            mb.addMetadataProps(StringStringEntryProto.newBuilder().setKey("arica.lora")
                    .setValue(branches.size() + " modules of " + options.adapter().dir().getFileName()));
        }
        if (!quantized.isEmpty()) {
            mb.addMetadataProps(StringStringEntryProto.newBuilder().setKey(QUANTIZATION_METADATA)
                    .setValue(GenAiDescription.quantizationSummary(quantized.values(), graph, options)));
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
            AtomicOutput.write(tmp.resolve("config.json"),
                    (Json.MAPPER.writeValueAsString(cfg) + "\n").getBytes(StandardCharsets.UTF_8));
            try (OnnxWriter w = OnnxWriter.unmanaged(tmp.resolve(MODEL_FILE), model, initializers, options.onnx());
                    Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate((long) WeightWriter.CAST_CHUNK * 4, 64);
                for (TensorInfo t : weights) {
                    DecoderGraph.QuantizedWeight q = quantized.get(t.name());
                    if (q == null) {
                        WeightWriter.stream(in.tensor(t.name()), t.dtype(), w, buffer, progress);
                    } else {
                        WeightWriter.dequantize((QuantizedCheckpoint) in, q, t.dtype(), w, buffer, progress);
                    }
                }
                for (TensorInfo t : factors) {
                    WeightWriter.stream(options.adapter().weights().tensor(t.name()), t.dtype(), w, buffer, progress);
                }
                for (DecoderGraph.Computed t : graph.computed()) {
                    WeightWriter.compute(t, w, buffer, progress);
                }
                if (!graph.planes().isEmpty()) {
                    WeightWriter.writePlanes((QuantizedCheckpoint) in, graph.planes(), w, buffer, progress);
                }
                w.commit();
            }
            AtomicOutput.write(tmp.resolve(GENAI_FILE), (Json.MAPPER.writeValueAsString(GenAiDescription.of(
                    description.family().id(), config, options, graph, quantized.values(), files)) + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            dir.commit();
        } finally {
            progress.finish();
        }
        List<String> written = new ArrayList<>(List.of("config.json", GENAI_FILE, MODEL_FILE));
        if (Files.exists(out.resolve(MODEL_FILE + OnnxWriter.DATA_SUFFIX))) {
            written.add(MODEL_FILE + OnnxWriter.DATA_SUFFIX);
        }
        written.addAll(files);
        // A quantized weight the graph reads as floats is among the weights already: counted once.
        int count = weights.size() + (int) quantized.keySet().stream().filter(n -> !graph.floatWeights().contains(n)).count()
                + factors.size();
        return new Result(out, config, model.getGraph().getNodeCount(), count, total,
                quantized.isEmpty() ? "" : GenAiDescription.quantizationSummary(quantized.values(), graph, options),
                List.copyOf(written));
    }

    /** Llama keeps the text its exports always had (their bytes are the refactorings' safety net). */
    private static String docString(ModelDescription d, String source) {
        String family = d.family().id();
        String what = family.equals("llama") ? "Llama" : family;
        return what + switch (d.config()) {
            case DecoderConfig c -> " decoder with key/value cache";
            case RecurrentConfig c -> " recurrent decoder with its state";
            case EncoderConfig c -> " encoder";
        }
                + ", exported by arica from " + source;
    }

    private static String version() {
        String v = OnnxExporter.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
