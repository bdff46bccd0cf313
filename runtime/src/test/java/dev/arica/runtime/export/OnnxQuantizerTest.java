package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.onnx.proto.AttributeProto;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.CheckpointQuantizer.Report;
import dev.arica.quantize.CheckpointQuantizer.TensorReport;
import dev.arica.quantize.Quantizer;
import dev.arica.runtime.ToyOnnx;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link OnnxQuantizer} on a small model built here, its weights in external data: a weight shared by two MatMuls,
 * a Gemm with transB and its bias, a Gemm without, an embedding table, a weight also read by another operator, a
 * tiny one; exact structure, and outputs that are the ones of the same graph on the dequantized weights.
 */
class OnnxQuantizerTest {

    static final int BATCH = 5;
    static final long VOCAB = 128;

    @TempDir
    Path tmp;

    @BeforeAll
    static void ort() {
        ToyOnnx.ort();
    }

    /** Float weights of the model, [rows, cols] row-major, by name. */
    static Map<String, float[]> weights() {
        SplittableRandom r = new SplittableRandom(7);
        Map<String, float[]> w = new LinkedHashMap<>();
        w.put("W", random(r, 64 * 64, 0.2));     // MatMul B [64, 64], read by two MatMuls
        w.put("G", random(r, 80 * 64, 0.2));     // Gemm B [80, 64] with transB = 1
        w.put("C", random(r, 80, 1));            // its C [80]
        w.put("H", random(r, 80 * 128, 0.2));    // Gemm B [80, 128], transB = 0: K = 80 is not whole groups of 32
        w.put("E", random(r, VOCAB * 128, 1));   // Gather table [128, 128]
        w.put("K", random(r, 64 * 64, 0.2));     // MatMul B, and a graph output through Identity
        w.put("kb", random(r, 64, 1));           // the bias added to MatMul(x, K)
        w.put("S", random(r, 64 * 8, 0.2));      // MatMul B [64, 8]: 512 elements, kept
        return w;
    }

    static float[] random(SplittableRandom r, long n, double scale) {
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    static final Map<String, long[]> SHAPES = Map.of("W", new long[] {64, 64}, "G", new long[] {80, 64}, "C",
            new long[] {80}, "H", new long[] {80, 128}, "E", new long[] {VOCAB, 128}, "K", new long[] {64, 64}, "kb",
            new long[] {64}, "S", new long[] {64, 8});

    /**
     * x [b, 64], ids [b] -> a = x W, a2 = a W, g = Gemm(a2, G, C, transB), h = Gemm(g, H), y = h + E[ids];
     * z = x K + kb; k_copy = Identity(K); s = x S.
     */
    static GraphProto.Builder graph() {
        return GraphProto.newBuilder().setName("synthetic")
                .addInput(OnnxModel.ValueInfo.tensor("x", OnnxType.FLOAT, "batch", 64L).toProto())
                .addInput(OnnxModel.ValueInfo.tensor("ids", OnnxType.INT64, "batch").toProto())
                .addNode(node("MatMul", "mm1", List.of("x", "W"), "a"))
                .addNode(node("MatMul", "mm2", List.of("a", "W"), "a2"))
                .addNode(node("Gemm", "gemm_t", List.of("a2", "G", "C"), "g", intAttr("transB", 1)))
                .addNode(node("Gemm", "gemm", List.of("g", "H"), "h"))
                .addNode(node("Gather", "embed", List.of("E", "ids"), "e", intAttr("axis", 0)))
                .addNode(node("Add", "sum", List.of("h", "e"), "y"))
                .addNode(node("MatMul", "mm_k", List.of("x", "K"), "xk"))
                .addNode(node("Add", "mm_k_bias", List.of("xk", "kb"), "z"))
                .addNode(node("Identity", "copy", List.of("K"), "k_copy"))
                .addNode(node("MatMul", "mm_s", List.of("x", "S"), "s"))
                .addOutput(OnnxModel.ValueInfo.tensor("y", OnnxType.FLOAT, "batch", 128L).toProto())
                .addOutput(OnnxModel.ValueInfo.tensor("z", OnnxType.FLOAT, "batch", 64L).toProto())
                .addOutput(OnnxModel.ValueInfo.tensor("k_copy", OnnxType.FLOAT, 64L, 64L).toProto())
                .addOutput(OnnxModel.ValueInfo.tensor("s", OnnxType.FLOAT, "batch", 8L).toProto());
    }

    static NodeProto node(String op, String name, List<String> inputs, String output, AttributeProto... attributes) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addOutput(output);
        for (AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        return n.build();
    }

    static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static ModelProto.Builder model(GraphProto.Builder g, int opset) {
        return ModelProto.newBuilder().setIrVersion(opset >= 21 ? 10 : 8).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey("origin").setValue("OnnxQuantizerTest"))
                .setGraph(g);
    }

    /** Writes the model with {@code weights} in external data (every one of more than 1 KiB). */
    static Path write(Path file, ModelProto model, Map<String, float[]> weights) throws IOException {
        List<OnnxWriter.Initializer> inits = new ArrayList<>();
        weights.forEach((n, v) -> inits.add(new OnnxWriter.Initializer(n, OnnxType.FLOAT, SHAPES.get(n))));
        try (OnnxWriter w = OnnxWriter.atomic(file, model, inits, OnnxWriter.Options.defaults())) {
            for (Map.Entry<String, float[]> e : weights.entrySet()) {
                w.begin(e.getKey());
                w.write(MemorySegment.ofArray(floats(e.getValue())));
            }
            w.commit();
        }
        return file;
    }

    static byte[] floats(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    private Path synthetic(int opset) throws IOException {
        Files.createDirectories(tmp.resolve("in"));
        return write(tmp.resolve("in/model.onnx"), model(graph(), opset).build(), weights());
    }

    static OnnxQuantizer.Options options(QuantLayout layout, boolean embeddings, boolean portable, int accuracyLevel) {
        return new OnnxQuantizer.Options(layout, portable ? null : layout, List.of(), embeddings, portable, false,
                accuracyLevel, false, 2);
    }

    private static Map<String, Long> ops(OnnxModel m) {
        Map<String, Long> out = new LinkedHashMap<>();
        m.opCounts().forEach((k, v) -> out.put(k, (long) v));
        return out;
    }

    @Test
    void structureSharedWeightGemmsKeptFloatsAndExternalData() throws IOException {
        Path in = synthetic(17);
        Path out = tmp.resolve("q.onnx");
        Report report = OnnxQuantizer.quantize(in, out, options(QuantLayout.of(Scheme.INT4), false, false, 4),
                Progress.NONE);
        assertTrue(Files.exists(tmp.resolve("q.onnx.data")), "weights stay external as in the input");
        try (OnnxModel q = OnnxModel.open(out); OnnxModel original = OnnxModel.open(in)) {
            assertEquals(Map.of("com.microsoft:MatMulNBits", 5L, "Cast", 4L, "Gather", 1L, "Add", 1L, "Identity", 1L,
                    "MatMul", 1L), ops(q));
            GraphProto g = q.graph();
            List<String> names = g.getNodeList().stream().map(NodeProto::getName).toList();
            // Nodes keep their names and order; the bias Add after x K went into its MatMulNBits.
            assertEquals(List.of("W.MatMulNBits.scales/f32", "mm1", "mm2", "G.MatMulNBits.scales/f32", "gemm_t",
                    "H.MatMulNBits.scales/f32", "gemm", "embed", "sum", "K.MatMulNBits.scales/f32", "mm_k", "copy", "mm_s"),
                    names);
            NodeProto mm1 = node(g, "mm1");
            NodeProto mm2 = node(g, "mm2");
            assertEquals("W.MatMulNBits.B", mm1.getInput(1));
            assertEquals(mm1.getInput(1), mm2.getInput(1), "a shared weight is quantized once");
            assertEquals(mm1.getInput(2), mm2.getInput(2));
            assertEquals(List.of("a2", "G.MatMulNBits.B", "G.MatMulNBits.scales/f32", "", "", "C"), node(g, "gemm_t")
                    .getInputList(), "Gemm's C goes into the bias input");
            assertEquals("g", node(g, "gemm_t").getOutput(0));
            assertEquals(List.of("x", "K.MatMulNBits.B", "K.MatMulNBits.scales/f32", "", "", "kb"),
                    node(g, "mm_k").getInputList());
            assertEquals("z", node(g, "mm_k").getOutput(0), "the absorbed Add's output is the MatMulNBits'");
            assertEquals(Map.of("K", 80L, "N", 128L, "bits", 4L, "block_size", 32L, "accuracy_level", 4L),
                    ints(node(g, "gemm")));
            assertEquals(Map.of("K", 64L, "N", 80L, "bits", 4L, "block_size", 32L, "accuracy_level", 4L),
                    ints(node(g, "gemm_t")));
            assertEquals("com.microsoft", node(g, "mm1").getDomain());
            // Kept as they were: the table (no --quantize-embeddings), K for Identity, the tiny S, C and kb.
            for (String kept : List.of("E", "K", "S", "C", "kb")) {
                assertTrue(q.initializer(kept).isPresent(), kept);
                assertEquals(original.data(kept).byteSize(), q.data(kept).byteSize());
                assertEquals(-1, original.data(kept).mismatch(q.data(kept)), kept + " copied byte for byte");
            }
            for (String gone : List.of("W", "G", "H")) {
                assertFalse(q.initializer(gone).isPresent(), gone);
            }
            // H [80, 128] as B: N = 128 rows of K = 80, three blocks of 32 (the last padded), 16 bytes each.
            assertArrayEquals(new long[] {128, 3, 16}, q.initializer("H.MatMulNBits.B").orElseThrow().shape());
            assertArrayEquals(new long[] {128, 3}, q.initializer("H.MatMulNBits.scales").orElseThrow().shape());
            assertEquals(original.proto().getGraph().getInputList(), g.getInputList());
            assertEquals(original.proto().getGraph().getOutputList(), g.getOutputList());
            assertEquals(original.metadata(), q.metadata());
            assertEquals(List.of(new OnnxModel.Opset("", 17), new OnnxModel.Opset("com.microsoft", 1)), q.opsetImports());
            assertEquals(original.graph().getNode(8), node(g, "copy"), "other nodes are kept as they are");
        }
        Map<String, TensorReport> byName = new LinkedHashMap<>();
        report.tensors().forEach(t -> byName.put(t.name(), t));
        assertEquals(List.of("W", "G", "C", "H", "E", "K", "kb", "S"), List.copyOf(byName.keySet()));
        assertEquals("MatMul B x2", byName.get("W").reason());
        assertEquals("Gemm B (transB)", byName.get("G").reason());
        assertEquals("int4 g32 + F32", byName.get("K").storage());
        assertTrue(byName.get("K").reason().contains("kept F32 too for input 0 of Identity 'copy'"), byName.get("K").reason());
        assertTrue(byName.get("H").padded());
        assertEquals("tiny (512 elements)", byName.get("S").reason());
        assertEquals("Gather table (--quantize-embeddings)", byName.get("E").reason());
        assertEquals(4, report.quantizedCount());
        assertEquals(64 * 64, byName.get("W").error().count(), "W quantized once");
        assertTrue(byName.get("W").error().snrDb() > 15 && byName.get("W").error().snrDb() < 30,
                "int4: " + byName.get("W").error());
    }

    private static NodeProto node(GraphProto g, String name) {
        return g.getNodeList().stream().filter(n -> n.getName().equals(name)).findFirst().orElseThrow(() ->
                new AssertionError("no node " + name + " in " + g.getNodeList().stream().map(NodeProto::getName).toList()));
    }

    private static Map<String, Long> ints(NodeProto n) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (AttributeProto a : n.getAttributeList()) {
            out.put(a.getName(), a.getI());
        }
        return out;
    }

    /**
     * The weights as the quantizer stores them, dequantized back to float in their own orientation: MatMul's B and
     * Gemm's B without transB as the transpose of the quantized [N, K], the others as they are.
     */
    static Map<String, float[]> dequantized(Map<String, float[]> weights, QuantLayout layout, List<String> transposed,
            List<String> rows) {
        Map<String, float[]> out = new LinkedHashMap<>(weights);
        Quantizer q = Quantizer.of(layout);
        try (Arena arena = Arena.ofConfined()) {
            for (String name : Stream.concat(transposed.stream(), rows.stream()).toList()) {
                long[] s = SHAPES.get(name);
                boolean t = transposed.contains(name);
                int n = (int) (t ? s[1] : s[0]);
                int k = (int) (t ? s[0] : s[1]);
                float[] w = weights.get(name);
                MemorySegment src = arena.allocate((long) n * k * 4);
                for (int r = 0; r < n; r++) {
                    for (int c = 0; c < k; c++) {
                        src.setAtIndex(FloatCast.F32_LE, (long) r * k + c, t ? w[c * n + r] : w[r * k + c]);
                    }
                }
                MemorySegment stored = arena.allocate(layout.bytes(n, k));
                q.quantize(src, n, k, stored);
                MemorySegment back = arena.allocate((long) n * k * 4);
                q.dequantize(stored, n, k, back);
                float[] d = new float[w.length];
                for (int r = 0; r < n; r++) {
                    for (int c = 0; c < k; c++) {
                        d[t ? c * n + r : r * k + c] = back.getAtIndex(FloatCast.F32_LE, (long) r * k + c);
                    }
                }
                out.put(name, d);
            }
        }
        return out;
    }

    /** The model's outputs for fixed inputs, by name. */
    static Map<String, float[]> run(Path model) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[] x = random(new SplittableRandom(11), BATCH * 64, 1);
        long[] ids = {0, 5, 127, 64, 5};
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(1);
            o.addConfigEntry("session.qdq_matmulnbits_accuracy_level", "0");
            try (OrtSession s = env.createSession(model.toString(), o);
                    OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {BATCH, 64});
                    OnnxTensor it = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {BATCH});
                    OrtSession.Result r = s.run(Map.of("x", xt, "ids", it))) {
                Map<String, float[]> out = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> e : r) {
                    FloatBuffer b = ((OnnxTensor) e.getValue()).getFloatBuffer();
                    float[] v = new float[b.remaining()];
                    b.get(v);
                    out.put(e.getKey(), v);
                }
                return out;
            }
        }
    }

    static double worst(Map<String, float[]> a, Map<String, float[]> b) {
        double worst = 0;
        for (String k : a.keySet()) {
            for (int i = 0; i < a.get(k).length; i++) {
                worst = Math.max(worst, Math.abs(a.get(k)[i] - b.get(k)[i]));
            }
        }
        return worst;
    }

    /**
     * MatMulNBits at accuracy_level 0 (and GatherBlockQuantized) compute with exactly the stored values: the outputs
     * are those of the original graph on the dequantized weights (float32 rounding only), so nothing was transposed,
     * packed or padded wrongly. Portable (DequantizeLinear + MatMul) likewise, on an opset 21 model.
     */
    @ParameterizedTest
    @ValueSource(strings = {"int4", "int8-g32-asym", "int4-g16-asym", "q4_0", "q8_0", "int8-portable", "int4-portable"})
    void quantizedGraphsComputeWithTheStoredValues(String id) throws Exception {
        String[] p = id.split("-");
        Scheme scheme = Scheme.parse(p[0]).orElseThrow();
        int group = id.contains("-g") ? Integer.parseInt(p[1].substring(1)) : scheme.defaultGroup();
        QuantLayout layout = new QuantLayout(scheme, group, id.contains("asym"));
        boolean portable = id.endsWith("portable");
        Path in = synthetic(portable ? 21 : 17);
        Path out = tmp.resolve("q.onnx");
        OnnxQuantizer.quantize(in, out, options(layout, !portable, portable, 0), Progress.NONE);
        Map<String, float[]> reference = dequantized(weights(), layout, List.of("W", "H", "K"),
                portable ? List.of("G") : List.of("G", "E"));
        Path expected = write(tmp.resolve("dequantized.onnx"), model(graph(), portable ? 21 : 17).build(), reference);
        Map<String, float[]> quantized = run(out);
        // K is also kept float, for Identity: k_copy is the original's.
        assertArrayEquals(run(in).get("k_copy"), quantized.remove("k_copy"));
        Map<String, float[]> want = run(expected);
        want.remove("k_copy");
        double worst = worst(want, quantized);
        assertTrue(worst <= 1e-4, id + ": largest difference " + worst);
    }

    /**
     * --dynamic: int8 per output channel for MatMulIntegerToFloat, activations quantized per tensor at run time (so
     * not the float result exactly), tables dequantized by Cast and Mul; close to the float model, and the table
     * rows exactly those of the stored per-row int8.
     */
    @Test
    void dynamicInt8PerChannel() throws Exception {
        Path in = synthetic(17);
        Path out = tmp.resolve("q.onnx");
        OnnxQuantizer.Options o = new OnnxQuantizer.Options(QuantLayout.of(Scheme.INT8), null, List.of(), true, false,
                true, 4, false, 2);
        Report report = OnnxQuantizer.quantize(in, out, o, Progress.NONE);
        try (OnnxModel q = OnnxModel.open(out)) {
            // One DynamicQuantizeLinear per activation (x, a, a2, g), a Cast per fp16 b_scale (W, G, H, K) and two for the table.
            assertEquals(Map.of("DynamicQuantizeLinear", 4L, "com.microsoft:MatMulIntegerToFloat", 5L, "Cast", 6L,
                    "Mul", 1L, "Gather", 1L, "Add", 1L, "Identity", 1L, "MatMul", 1L), ops(q));
            // One DynamicQuantizeLinear per activation: x feeds mm1 and mm_k.
            assertEquals(node(q.graph(), "mm1").getInput(0), node(q.graph(), "mm_k").getInput(0));
            assertArrayEquals(new long[] {64, 64}, q.initializer("W.MatMulIntegerToFloat.B").orElseThrow().shape());
            assertEquals(OnnxType.INT8, q.initializer("W.MatMulIntegerToFloat.B").orElseThrow().type());
            assertArrayEquals(new long[] {VOCAB, 128}, q.initializer("E.quantized").orElseThrow().shape());
            assertArrayEquals(new long[] {VOCAB, 1}, q.initializer("E.scales").orElseThrow().shape());
            assertEquals("embed", node(q.graph(), "embed").getName());
        }
        assertEquals("int8 per channel", report.tensors().getFirst().storage());
        Map<String, float[]> f = run(in);
        Map<String, float[]> d = run(out);
        for (String k : List.of("y", "z", "s")) {
            double num = 0, den = 0;
            for (int i = 0; i < f.get(k).length; i++) {
                num += Math.pow(f.get(k)[i] - d.get(k)[i], 2);
                den += Math.pow(f.get(k)[i], 2);
            }
            assertTrue(Math.sqrt(num / den) < 0.02, k + ": relative error " + Math.sqrt(num / den));
        }
        assertArrayEquals(f.get("k_copy"), d.get("k_copy"));
    }

    /**
     * A float16 model: MatMulNBits takes the fp16 scales as they are (no Cast) and computes with the stored values,
     * as the same graph does on the dequantized weight (within float16 rounding of the activations).
     */
    @Test
    void float16Model() throws Exception {
        float[] w = random(new SplittableRandom(5), 128 * 64, 0.2);
        GraphProto.Builder g = GraphProto.newBuilder().setName("f16")
                .addInput(OnnxModel.ValueInfo.tensor("x", OnnxType.FLOAT16, "batch", 128L).toProto())
                .addNode(node("MatMul", "mm", List.of("x", "W"), "y"))
                .addOutput(OnnxModel.ValueInfo.tensor("y", OnnxType.FLOAT16, "batch", 64L).toProto());
        Path in = Files.write(tmp.resolve("f16.onnx"), model(g.clone().addInitializer(halves("W", w)), 17).build()
                .toByteArray());
        Path out = tmp.resolve("q.onnx");
        QuantLayout layout = new QuantLayout(Scheme.INT8, 32, false);
        OnnxQuantizer.quantize(in, out, options(layout, false, false, 0), Progress.NONE);
        try (OnnxModel q = OnnxModel.open(out)) {
            assertEquals(Map.of("com.microsoft:MatMulNBits", 1), q.opCounts());
            assertEquals("W.MatMulNBits.scales", node(q.graph(), "mm").getInput(2));
        }
        float[] d = new float[w.length];
        Quantizer quantizer = Quantizer.of(layout);
        try (Arena arena = Arena.ofConfined()) {
            // [N, K] = W^T, from W's float16 values.
            MemorySegment src = arena.allocate(128L * 64 * 4);
            for (int n = 0; n < 64; n++) {
                for (int k = 0; k < 128; k++) {
                    src.setAtIndex(FloatCast.F32_LE, n * 128L + k, Float.float16ToFloat(Float.floatToFloat16(w[k * 64 + n])));
                }
            }
            MemorySegment stored = arena.allocate(layout.bytes(64, 128));
            quantizer.quantize(src, 64, 128, stored);
            MemorySegment back = arena.allocate(128L * 64 * 4);
            quantizer.dequantize(stored, 64, 128, back);
            for (int n = 0; n < 64; n++) {
                for (int k = 0; k < 128; k++) {
                    d[k * 64 + n] = back.getAtIndex(FloatCast.F32_LE, n * 128L + k);
                }
            }
        }
        Path expected = Files.write(tmp.resolve("expected.onnx"), model(g.clone().addInitializer(halves("W", d)), 17)
                .build().toByteArray());
        float[] a = runHalves(expected);
        float[] b = runHalves(out);
        for (int i = 0; i < a.length; i++) {
            assertTrue(Math.abs(a[i] - b[i]) <= 2e-3 * Math.max(1, Math.abs(a[i])), i + ": " + a[i] + " against " + b[i]);
        }
    }

    private static TensorProto halves(String name, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putShort(Float.floatToFloat16(f));
        }
        return TensorProto.newBuilder().setName(name).setDataType(OnnxType.FLOAT16.code()).addDims(128).addDims(64)
                .setRawData(ByteString.copyFrom(b.array())).build();
    }

    private static float[] runHalves(Path model) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[] x = random(new SplittableRandom(13), BATCH * 128, 1);
        ByteBuffer xb = ByteBuffer.allocateDirect(2 * x.length).order(ByteOrder.nativeOrder());
        for (float f : x) {
            xb.putShort(Float.floatToFloat16(f));
        }
        xb.flip();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(1);
            try (OrtSession s = env.createSession(model.toString(), o);
                    OnnxTensor xt = OnnxTensor.createTensor(env, xb.asShortBuffer(), new long[] {BATCH, 128},
                            OnnxJavaType.FLOAT16);
                    OrtSession.Result r = s.run(Map.of("x", xt))) {
                ShortBuffer y = ((OnnxTensor) r.get(0)).getShortBuffer();
                float[] out = new float[y.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.float16ToFloat(y.get(i));
                }
                return out;
            }
        }
    }

    @Test
    void keepByWeightOrNodeName() throws IOException {
        Path in = synthetic(17);
        OnnxQuantizer.Options o = new OnnxQuantizer.Options(QuantLayout.of(Scheme.INT8), QuantLayout.of(Scheme.INT8),
                List.of(Pattern.compile("^G$"), Pattern.compile("mm_k")), false, false, false, 4, false, 1);
        Report r = OnnxQuantizer.quantize(in, tmp.resolve("q.onnx"), o, Progress.NONE);
        Map<String, TensorReport> byName = new LinkedHashMap<>();
        r.tensors().forEach(t -> byName.put(t.name(), t));
        assertEquals("--keep ^G$", byName.get("G").reason());
        assertFalse(byName.get("K").quantized(), byName.get("K").reason());
        assertTrue(byName.get("W").quantized());
        assertTrue(byName.get("H").quantized());
    }

    @Test
    void inlineInputGivesOneFileAndTheInputIsUntouched() throws IOException {
        Map<String, float[]> w = weights();
        GraphProto.Builder g = graph();
        w.forEach((n, v) -> {
            TensorProto.Builder t = TensorProto.newBuilder().setName(n).setDataType(OnnxType.FLOAT.code())
                    .setRawData(ByteString.copyFrom(floats(v)));
            for (long d : SHAPES.get(n)) {
                t.addDims(d);
            }
            g.addInitializer(t);
        });
        Path in = Files.write(tmp.resolve("inline.onnx"), model(g, 17).build().toByteArray());
        byte[] before = Files.readAllBytes(in);
        Path out = tmp.resolve("q.onnx");
        Report r = OnnxQuantizer.quantize(in, out, options(QuantLayout.of(Scheme.INT8), true, false, 4), Progress.NONE);
        assertFalse(Files.exists(tmp.resolve("q.onnx.data")));
        assertArrayEquals(before, Files.readAllBytes(in));
        assertEquals(Files.size(out), r.fileBytes());
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of("inline.onnx", "q.onnx"), files.map(f -> f.getFileName().toString()).sorted().toList(),
                    "no temporary left");
        }
        try (OnnxModel q = OnnxModel.open(out)) {
            assertTrue(q.initializers().stream().noneMatch(OnnxModel.Initializer::external));
            assertEquals(1L, ops(q).get("com.microsoft:GatherBlockQuantized"));
        }
    }

    /** A model exported with keep_initializers_as_inputs: a weight quantized away leaves the graph's inputs too. */
    @Test
    void aQuantizedWeightDeclaredAsAnInputLeavesTheInputs() throws Exception {
        GraphProto.Builder g = graph().addInput(OnnxModel.ValueInfo.tensor("W", OnnxType.FLOAT, 64L, 64L).toProto())
                .addInput(OnnxModel.ValueInfo.tensor("S", OnnxType.FLOAT, 64L, 8L).toProto());
        Files.createDirectories(tmp.resolve("in"));
        Path in = write(tmp.resolve("in/inputs.onnx"), model(g, 17).build(), weights());
        Path out = tmp.resolve("q.onnx");
        OnnxQuantizer.quantize(in, out, options(QuantLayout.of(Scheme.INT8), false, false, 0), Progress.NONE);
        try (OnnxModel q = OnnxModel.open(out)) {
            assertEquals(List.of("x", "ids", "S"), q.graph().getInputList().stream().map(v -> v.getName()).toList());
        }
        run(out);
    }

    @Test
    void refusalsAreOneLineAndWriteNothing() throws IOException {
        Path in = synthetic(17);
        byte[] bytes = Files.readAllBytes(in);
        Path truncated = Files.write(tmp.resolve("truncated.onnx"), Arrays.copyOf(bytes, bytes.length / 2));
        Path text = Files.writeString(tmp.resolve("text.onnx"), "this is not a model\n");
        GraphProto.Builder adds = GraphProto.newBuilder().setName("adds")
                .addInput(OnnxModel.ValueInfo.tensor("x", OnnxType.FLOAT, 4L).toProto())
                .addNode(node("Add", "add", List.of("x", "x"), "y"))
                .addOutput(OnnxModel.ValueInfo.tensor("y", OnnxType.FLOAT, 4L).toProto());
        Path nothing = Files.write(tmp.resolve("adds.onnx"), model(adds, 17).build().toByteArray());
        OnnxQuantizer.Options o = options(QuantLayout.of(Scheme.INT8), false, false, 4);
        Path out = tmp.resolve("out.onnx");
        for (Path bad : List.of(truncated, text, nothing)) {
            FormatException e = assertThrows(FormatException.class, () -> OnnxQuantizer.quantize(bad, out, o, Progress.NONE));
            assertTrue(e.getMessage().startsWith(bad.toString() + ": "), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
        assertTrue(assertThrows(FormatException.class, () -> OnnxQuantizer.quantize(nothing, out, o, Progress.NONE))
                .getMessage().contains("nothing to quantize"));
        assertTrue(assertThrows(FormatException.class, () -> OnnxQuantizer.quantize(in, out,
                options(QuantLayout.of(Scheme.INT8), false, true, 0), Progress.NONE)).getMessage()
                .contains("needs ONNX opset 21, and the model imports opset 17"));
        assertThrows(IllegalArgumentException.class, () -> OnnxQuantizer.quantize(in, in, o, Progress.NONE));
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.resolve("out.onnx.data")));
    }
}
