package dev.arica.runtime;

import dev.arica.runtime.ort.OrtRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Small ONNX models written in code for the runtime tests. The ONNX protobuf classes arrive with the
 * exporter (branch onnx); until then this writes the few ModelProto fields the tests need by hand, from
 * onnx.proto's field numbers.
 */
public final class ToyOnnx {
    private ToyOnnx() {}

    /** ORT for tests, with its native libraries cached under target/ rather than the user's home. */
    public static OrtRuntime ort() {
        return OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
    }

    // ---- protobuf wire format ------------------------------------------------------------------

    /** A protobuf message under construction. */
    public static final class Msg {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        private void key(int field, int wireType) {
            varint(((long) field << 3) | wireType);
        }

        public Msg i(int field, long v) {
            key(field, 0);
            varint(v);
            return this;
        }

        public Msg f32(int field, float v) {
            key(field, 5);
            byte[] b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array();
            out.writeBytes(b);
            return this;
        }

        public Msg bytes(int field, byte[] b) {
            key(field, 2);
            varint(b.length);
            out.writeBytes(b);
            return this;
        }

        public Msg s(int field, String v) {
            return bytes(field, v.getBytes(StandardCharsets.UTF_8));
        }

        public Msg m(int field, Msg v) {
            return bytes(field, v.toBytes());
        }

        public byte[] toBytes() {
            return out.toByteArray();
        }
    }

    // ---- onnx.proto -----------------------------------------------------------------------------

    public static final int FLOAT = 1, INT64 = 7, FLOAT16 = 10;

    /** NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. */
    public static Msg node(String op, List<String> inputs, String output, Msg... attributes) {
        Msg n = new Msg();
        inputs.forEach(in -> n.s(1, in));
        n.s(2, output).s(3, output + "_node").s(4, op);
        for (Msg a : attributes) {
            n.m(5, a);
        }
        return n;
    }

    /** AttributeProto INT: name 1, i 3, type 20 = 2. */
    public static Msg intAttr(String name, long v) {
        return new Msg().s(1, name).i(3, v).i(20, 2);
    }

    /** TensorProto: dims 1, data_type 2, name 8, raw_data 9. */
    public static Msg tensor(String name, int dataType, long[] dims, byte[] raw) {
        Msg t = new Msg();
        for (long d : dims) {
            t.i(1, d);
        }
        return t.i(2, dataType).s(8, name).bytes(9, raw);
    }

    public static Msg floats(String name, long[] dims, float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return tensor(name, FLOAT, dims, b.array());
    }

    public static Msg longs(String name, long[] dims, long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) {
            b.putLong(x);
        }
        return tensor(name, INT64, dims, b.array());
    }

    /**
     * ValueInfoProto (name 1, type 2) of a tensor: TypeProto.tensor_type 1 {elem_type 1, shape 2
     * {dim 1 {dim_value 1 | dim_param 2}}}; a dim is a Long (fixed) or a String (named).
     */
    public static Msg value(String name, int elemType, Object... dims) {
        Msg shape = new Msg();
        for (Object d : dims) {
            shape.m(1, d instanceof Long l ? new Msg().i(1, l) : new Msg().s(2, (String) d));
        }
        Msg tensorType = new Msg().i(1, elemType).m(2, shape);
        return new Msg().s(1, name).m(2, new Msg().m(1, tensorType));
    }

    /** ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8; GraphProto: node 1, name 2, initializer 5, input 11, output 12. */
    public static byte[] model(List<Msg> nodes, List<Msg> initializers, List<Msg> inputs, List<Msg> outputs) {
        Msg graph = new Msg();
        nodes.forEach(n -> graph.m(1, n));
        graph.s(2, "toy");
        initializers.forEach(t -> graph.m(5, t));
        inputs.forEach(v -> graph.m(11, v));
        outputs.forEach(v -> graph.m(12, v));
        return new Msg().i(1, 8).s(2, "arica-tests").m(7, graph).m(8, new Msg().s(1, "").i(2, 17)).toBytes();
    }

    // ---- the toy decoder -----------------------------------------------------------------------

    /**
     * A decoder graph with the exported convention and a next-token rule simple enough to compute by hand,
     * yet one that sees every input: layer i's key and value caches append the chunk's ids times
     * {@code 4i+1} and {@code 4i+3}, and the logits are {@code -|v - t|} for every position, where
     * t = (sum of all cache entries + sum(attention_mask) + sum(position_ids)) mod vocab. With correct
     * caches the cache sum is (sum over layers of 8i+4) times the sum of all ids so far. kv_heads 1,
     * head_dim 1.
     */
    public static Path decoder(Path file, int layers, int vocab) throws IOException {
        List<Msg> nodes = new ArrayList<>();
        List<Msg> init = new ArrayList<>();
        List<Msg> inputs = new ArrayList<>();
        List<Msg> outputs = new ArrayList<>();
        inputs.add(value("input_ids", INT64, "batch", "seq"));
        inputs.add(value("attention_mask", INT64, "batch", "total"));
        inputs.add(value("position_ids", INT64, "batch", "seq"));
        init.add(longs("chunk_shape", new long[] {4}, 1, 1, -1, 1));
        nodes.add(node("Cast", List.of("input_ids"), "ids_f", intAttr("to", FLOAT)));
        nodes.add(node("Reshape", List.of("ids_f", "chunk_shape"), "chunk"));
        List<String> sums = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            for (String kind : List.of("key", "value")) {
                int factor = kind.equals("key") ? 4 * i + 1 : 4 * i + 3;
                String past = "past_key_values." + i + "." + kind, present = "present." + i + "." + kind;
                inputs.add(value(past, FLOAT, "batch", 1L, "past", 1L));
                outputs.add(value(present, FLOAT, "batch", 1L, "total", 1L));
                init.add(floats("factor_" + i + "_" + kind, new long[0], factor));
                nodes.add(node("Mul", List.of("chunk", "factor_" + i + "_" + kind), "scaled_" + i + "_" + kind));
                nodes.add(node("Concat", List.of(past, "scaled_" + i + "_" + kind), present, intAttr("axis", 2)));
                nodes.add(node("ReduceSum", List.of(present), "sum_" + present, intAttr("keepdims", 0)));
                sums.add("sum_" + present);
            }
        }
        nodes.add(node("Cast", List.of("attention_mask"), "mask_f", intAttr("to", FLOAT)));
        nodes.add(node("ReduceSum", List.of("mask_f"), "mask_sum", intAttr("keepdims", 0)));
        nodes.add(node("Cast", List.of("position_ids"), "pos_f", intAttr("to", FLOAT)));
        nodes.add(node("ReduceSum", List.of("pos_f"), "pos_sum", intAttr("keepdims", 0)));
        sums.add("mask_sum");
        sums.add("pos_sum");
        nodes.add(node("Sum", sums, "total"));
        init.add(floats("vocab_f", new long[0], vocab));
        nodes.add(node("Mod", List.of("total", "vocab_f"), "target", intAttr("fmod", 1)));
        float[] range = new float[vocab];
        for (int v = 0; v < vocab; v++) {
            range[v] = v;
        }
        init.add(floats("range", new long[] {vocab}, range));
        nodes.add(node("Sub", List.of("range", "target"), "diff"));
        nodes.add(node("Abs", List.of("diff"), "dist"));
        nodes.add(node("Neg", List.of("dist"), "row"));
        init.add(longs("row_shape", new long[] {3}, 1, 1, vocab));
        nodes.add(node("Reshape", List.of("row", "row_shape"), "row3"));
        nodes.add(node("Shape", List.of("input_ids"), "ids_shape"));
        init.add(longs("vocab_dim", new long[] {1}, vocab));
        nodes.add(node("Concat", List.of("ids_shape", "vocab_dim"), "logits_shape", intAttr("axis", 0)));
        nodes.add(node("Expand", List.of("row3", "logits_shape"), "logits"));
        outputs.add(0, value("logits", FLOAT, "batch", "seq", (long) vocab));
        Files.write(file, model(nodes, init, inputs, outputs));
        return file;
    }

    /** The toy decoder's next token after {@code history}, the last {@code chunk} of which was just fed. */
    public static int toyNext(int[] history, int chunk, int layers, int vocab) {
        long ids = 0;
        for (int id : history) {
            ids += id;
        }
        long weight = 0;
        for (int i = 0; i < layers; i++) {
            weight += 8L * i + 4;
        }
        long positions = 0;
        for (int p = history.length - chunk; p < history.length; p++) {
            positions += p;
        }
        return (int) ((weight * ids + history.length + positions) % vocab);
    }
}
