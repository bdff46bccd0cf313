package dev.arica.formats.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * GPTQ checkpoints for tests, made from the bundled tiny-falcon-gptq by code of their own, independent of arica's
 * reader: its layers decoded as the model's README describes AutoGPTQ's packing, the float weights they give, and
 * variants packed back (v2's true zero points, 8-bit words, groups relabelled or interleaved as desc_act makes them,
 * asymmetric zero points), or broken on purpose.
 */
public final class GptqFixtures {
    /** The bundled GPTQ model. */
    public static final String MODEL = "tiny-falcon-gptq";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor as a safetensors file stores it. */
    public record Raw(String name, String dtype, long[] shape, byte[] data) {}

    /**
     * One layer, decoded: codes {@code q[k][n]}, zero points and fp16 scale bits {@code [group][n]}, and g_idx.
     */
    public record Layer(String module, int[][] q, int[][] zero, short[][] scale, int[] gIdx) {
        public int in() {
            return q.length;
        }

        public int out() {
            return q[0].length;
        }

        public int groups() {
            return scale.length;
        }

        /** W [out][in] in float32: scales[g_idx[k], n] * (q[k, n] - zero[g_idx[k], n]). */
        public float[][] weight() {
            float[][] w = new float[out()][in()];
            for (int n = 0; n < out(); n++) {
                for (int k = 0; k < in(); k++) {
                    int g = gIdx[k];
                    w[n][k] = Float.float16ToFloat(scale[g][n]) * (q[k][n] - zero[g][n]);
                }
            }
            return w;
        }

        /** The same weights with the groups' labels rotated by one (a non-monotone g_idx, as desc_act writes). */
        public Layer relabelled() {
            int[][] z = new int[groups()][];
            short[][] s = new short[groups()][];
            for (int g = 0; g < groups(); g++) {
                z[(g + 1) % groups()] = zero[g];
                s[(g + 1) % groups()] = scale[g];
            }
            int[] idx = new int[in()];
            for (int k = 0; k < in(); k++) {
                idx[k] = (gIdx[k] + 1) % groups();
            }
            return new Layer(module, q, z, s, idx);
        }

        /** Other weights: input row k in group k mod groups, every group as large as before. */
        public Layer interleaved() {
            int[] idx = new int[in()];
            for (int k = 0; k < in(); k++) {
                idx[k] = k % groups();
            }
            return new Layer(module, q, zero, scale, idx);
        }

        /** Other weights: the first group {@code extra} rows larger than the others, which no arica layout holds. */
        public Layer uneven(int extra) {
            int[] idx = new int[in()];
            int rows = in() / groups();
            for (int k = 0; k < in(); k++) {
                idx[k] = k < rows + extra ? 0 : Math.min(groups() - 1, (k - extra) / rows);
            }
            return new Layer(module, q, zero, scale, idx);
        }

        /** The same layer under another module name. */
        public Layer renamed(String name) {
            return new Layer(name, q, zero, scale, gIdx);
        }

        /** Its four tensors, packed at {@code bits} with v1 (zero - 1) or v2 zero points. */
        public List<Raw> packed(int bits, boolean v2) {
            return List.of(GptqFixtures.packed(this, "qweight", bits, v2), GptqFixtures.packed(this, "qzeros", bits, v2),
                    GptqFixtures.packed(this, "scales", bits, v2), GptqFixtures.packed(this, "g_idx", bits, v2));
        }

        /** Other weights: random zero points from 0 to 2^bits - 1 (an asymmetric quantizer's). */
        public Layer asymmetric(long seed) {
            Random r = new Random(seed);
            int[][] z = new int[groups()][out()];
            for (int[] row : z) {
                for (int n = 0; n < row.length; n++) {
                    row[n] = r.nextInt(16);
                }
            }
            return new Layer(module, q, z, scale, gIdx);
        }
    }

    private final ObjectNode header;
    private final byte[] data;
    private final Map<String, Layer> layers;

    private GptqFixtures(ObjectNode header, byte[] data, Map<String, Layer> layers) {
        this.header = header;
        this.data = data;
        this.layers = layers;
    }

    /** The bundled model, its layers decoded (4 bits, v1 zero points). */
    public static GptqFixtures bundled() throws IOException {
        byte[] all = Files.readAllBytes(TestModels.dir(MODEL).resolve("model.safetensors"));
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) b.getLong(0);
        ObjectNode header = (ObjectNode) JSON.readTree(new String(all, 8, n, StandardCharsets.UTF_8));
        byte[] data = java.util.Arrays.copyOfRange(all, 8 + n, all.length);
        Map<String, Layer> layers = new LinkedHashMap<>();
        for (String name : names(header)) {
            if (name.endsWith(".qweight")) {
                String m = name.substring(0, name.length() - ".qweight".length());
                layers.put(m, decode(m, header, data));
            }
        }
        return new GptqFixtures(header, data, layers);
    }

    private static List<String> names(ObjectNode header) {
        List<String> out = new ArrayList<>();
        header.fieldNames().forEachRemaining(f -> {
            if (!f.equals("__metadata__")) {
                out.add(f);
            }
        });
        return out;
    }

    private static ByteBuffer bytes(ObjectNode header, byte[] data, String name) {
        JsonNode off = header.get(name).get("data_offsets");
        int a = off.get(0).asInt();
        return ByteBuffer.wrap(data, a, off.get(1).asInt() - a).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static Layer decode(String m, ObjectNode header, byte[] data) {
        ByteBuffer gb = bytes(header, data, m + ".g_idx");
        int in = gb.remaining() / 4;
        int[] gIdx = new int[in];
        for (int k = 0; k < in; k++) {
            gIdx[k] = gb.getInt(4 * k);
        }
        ByteBuffer sb = bytes(header, data, m + ".scales");
        JsonNode sShape = header.get(m + ".scales").get("shape");
        int groups = sShape.get(0).asInt();
        int out = sShape.get(1).asInt();
        short[][] scale = new short[groups][out];
        int[][] zero = new int[groups][out];
        ByteBuffer zb = bytes(header, data, m + ".qzeros");
        for (int g = 0; g < groups; g++) {
            for (int n = 0; n < out; n++) {
                scale[g][n] = sb.getShort(2 * (g * out + n));
                int word = zb.getInt(4 * (g * (out / 8) + n / 8));
                zero[g][n] = ((word >>> (4 * (n % 8))) + 1) & 15;
            }
        }
        ByteBuffer qb = bytes(header, data, m + ".qweight");
        int[][] q = new int[in][out];
        for (int k = 0; k < in; k++) {
            for (int n = 0; n < out; n++) {
                q[k][n] = (qb.getInt(4 * ((k / 8) * out + n)) >>> (4 * (k % 8))) & 15;
            }
        }
        return new Layer(m, q, zero, scale, gIdx);
    }

    /** The decoded layers by module name, in file order. */
    public Map<String, Layer> layers() {
        return layers;
    }

    /** The same model with every layer changed by {@code change}. */
    public GptqFixtures map(UnaryOperator<Layer> change) {
        Map<String, Layer> out = new LinkedHashMap<>();
        layers.forEach((m, l) -> out.put(m, change.apply(l)));
        return new GptqFixtures(header, data, out);
    }

    /** The checkpoint's tensors in file order, the layers packed at {@code bits} with v1 (zero - 1) or v2 zero points. */
    public List<Raw> tensors(int bits, boolean v2) {
        List<Raw> out = new ArrayList<>();
        for (String name : names(header)) {
            String m = name.substring(0, name.lastIndexOf('.'));
            Layer l = layers.get(m);
            JsonNode e = header.get(name);
            if (l == null) {
                ByteBuffer b = bytes(header, data, name);
                byte[] copy = new byte[b.remaining()];
                b.get(copy);
                long[] shape = JSON.convertValue(e.get("shape"), long[].class);
                out.add(new Raw(name, e.get("dtype").asText(), shape, copy));
            } else {
                out.add(packed(l, name.substring(m.length() + 1), bits, v2));
            }
        }
        return out;
    }

    static Raw packed(Layer l, String part, int bits, boolean v2) {
        int per = 32 / bits;
        int mask = (1 << bits) - 1;
        String name = l.module() + "." + part;
        return switch (part) {
            case "qweight" -> {
                ByteBuffer b = ByteBuffer.allocate(l.in() / per * l.out() * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (int r = 0; r < l.in() / per; r++) {
                    for (int n = 0; n < l.out(); n++) {
                        int word = 0;
                        for (int j = 0; j < per; j++) {
                            word |= l.q()[r * per + j][n] << (bits * j);
                        }
                        b.putInt(word);
                    }
                }
                yield new Raw(name, "I32", new long[] {l.in() / per, l.out()}, b.array());
            }
            case "qzeros" -> {
                ByteBuffer b = ByteBuffer.allocate(l.groups() * l.out() / per * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (int g = 0; g < l.groups(); g++) {
                    for (int c = 0; c < l.out() / per; c++) {
                        int word = 0;
                        for (int j = 0; j < per; j++) {
                            int z = l.zero()[g][c * per + j];
                            word |= ((v2 ? z : z - 1) & mask) << (bits * j);
                        }
                        b.putInt(word);
                    }
                }
                yield new Raw(name, "I32", new long[] {l.groups(), l.out() / per}, b.array());
            }
            case "scales" -> {
                ByteBuffer b = ByteBuffer.allocate(l.groups() * l.out() * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (short[] row : l.scale()) {
                    for (short s : row) {
                        b.putShort(s);
                    }
                }
                yield new Raw(name, "F16", new long[] {l.groups(), l.out()}, b.array());
            }
            case "g_idx" -> {
                ByteBuffer b = ByteBuffer.allocate(l.in() * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (int g : l.gIdx()) {
                    b.putInt(g);
                }
                yield new Raw(name, "I32", new long[] {l.in()}, b.array());
            }
            default -> throw new IllegalArgumentException("not a GPTQ tensor: " + name);
        };
    }

    /** quantize_config.json as AutoGPTQ writes it; {@code format} null leaves checkpoint_format out (older files). */
    public static ObjectNode quantizeConfig(int bits, boolean sym, boolean descAct, String format) {
        ObjectNode c = JSON.createObjectNode().put("bits", bits).put("group_size", 32).put("damp_percent", 0.01)
                .put("desc_act", descAct).put("static_groups", false).put("sym", sym).put("true_sequential", true)
                .putNull("model_name_or_path").put("model_file_base_name", "model");
        if (format != null) {
            c.put("quant_method", "gptq").put("checkpoint_format", format);
        }
        return c;
    }

    /**
     * Writes a GPTQ checkpoint directory: {@code tensors} as model.safetensors, the bundled config.json with
     * {@code quantize} as its quantization_config, generation_config.json, and quantize_config.json when
     * {@code separateFile}.
     */
    public static Path write(Path dir, List<Raw> tensors, ObjectNode quantize, boolean separateFile) throws IOException {
        Files.createDirectories(dir);
        Path model = TestModels.dir(MODEL);
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.set("quantization_config", quantize.deepCopy().put("quant_method", "gptq"));
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());
        Files.copy(model.resolve("generation_config.json"), dir.resolve("generation_config.json"));
        if (separateFile) {
            Files.writeString(dir.resolve("quantize_config.json"), quantize.toPrettyString());
        }
        writeSafetensors(dir.resolve("model.safetensors"), tensors);
        return dir;
    }

    /** A safetensors file of {@code tensors} back to back, in order. */
    public static void writeSafetensors(Path file, List<Raw> tensors) throws IOException {
        ObjectNode h = JSON.createObjectNode();
        h.putObject("__metadata__").put("format", "pt");
        long at = 0;
        for (Raw t : tensors) {
            ObjectNode e = h.putObject(t.name());
            e.put("dtype", t.dtype());
            e.set("shape", JSON.valueToTree(t.shape()));
            e.putArray("data_offsets").add(at).add(at + t.data().length);
            at += t.data().length;
        }
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate((int) (8 + json.length + at)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        tensors.forEach(t -> b.put(t.data()));
        Files.write(file, b.array());
    }

    /** {@code tensors} with the one named {@code name} replaced by {@code replacement}. */
    public static List<Raw> replace(List<Raw> tensors, String name, Raw replacement) {
        List<Raw> out = new ArrayList<>();
        for (Raw t : tensors) {
            out.add(t.name().equals(name) ? replacement : t);
        }
        return out;
    }

    /** The first layer's module name. */
    public String firstModule() {
        return layers.keySet().iterator().next();
    }
}
