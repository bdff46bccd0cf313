package dev.arica.runtime.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Json;
import dev.arica.formats.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The hyper-parameters of a Hugging Face Llama checkpoint, from its config.json (and generation_config.json
 * for the end-of-sequence ids), checked against the tensors the checkpoint holds.
 *
 * @param eosTokenIds every id that ends generation, generation_config.json's first
 */
public record LlamaConfig(int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int vocab,
        double rmsNormEps, double ropeTheta, boolean tied, int maxPositions, Integer bosTokenId,
        List<Integer> eosTokenIds) {

    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    public LlamaConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** Query heads that share one key/value head. */
    public int groupSize() {
        return heads / kvHeads;
    }

    /** Tensor name of a per-layer weight, e.g. {@code layer(3, "self_attn.q_proj")}. */
    public static String layer(int i, String module) {
        return "model.layers." + i + "." + module + ".weight";
    }

    /** The per-layer modules, in the order the exporter stores them. */
    public static final List<String> LAYER_MODULES = List.of("input_layernorm", "self_attn.q_proj", "self_attn.k_proj",
            "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
            "mlp.down_proj");

    /** Every weight the graph uses, with the shape this configuration requires, in storage order. */
    public Map<String, long[]> weightShapes() {
        Map<String, long[]> w = new LinkedHashMap<>();
        long q = (long) heads * headDim, kv = (long) kvHeads * headDim;
        w.put(EMBED, new long[] {vocab, hidden});
        for (int i = 0; i < layers; i++) {
            w.put(layer(i, "input_layernorm"), new long[] {hidden});
            w.put(layer(i, "self_attn.q_proj"), new long[] {q, hidden});
            w.put(layer(i, "self_attn.k_proj"), new long[] {kv, hidden});
            w.put(layer(i, "self_attn.v_proj"), new long[] {kv, hidden});
            w.put(layer(i, "self_attn.o_proj"), new long[] {hidden, q});
            w.put(layer(i, "post_attention_layernorm"), new long[] {hidden});
            w.put(layer(i, "mlp.gate_proj"), new long[] {intermediate, hidden});
            w.put(layer(i, "mlp.up_proj"), new long[] {intermediate, hidden});
            w.put(layer(i, "mlp.down_proj"), new long[] {hidden, intermediate});
        }
        w.put(FINAL_NORM, new long[] {hidden});
        if (!tied) {
            w.put(LM_HEAD, new long[] {vocab, hidden});
        }
        return w;
    }

    /**
     * Reads the configuration of {@code c} and checks that its tensors are those of a Llama model of that
     * shape. Anything the exported graph would not reproduce (rope scaling, biases, another activation)
     * is refused rather than silently exported wrong.
     */
    public static LlamaConfig of(Checkpoint c) throws IOException {
        Path where = Files.isDirectory(c.path()) ? c.path().resolve("config.json") : c.path();
        ObjectNode cfg = c.config().orElseThrow(() -> new FormatException(c.path(),
                "has no config.json; ONNX export needs the model's configuration"));
        Fields f = new Fields(where, cfg);
        String type = f.text("model_type", null);
        boolean llamaArch = cfg.path("architectures").isArray()
                && cfg.get("architectures").toString().contains("\"LlamaForCausalLM\"");
        if (type == null ? !llamaArch : !type.equals("llama")) {
            throw new FormatException(where, "model_type '" + (type == null ? cfg.path("architectures") : type)
                    + "' is not supported by ONNX export (supported: llama)");
        }
        if (cfg.hasNonNull("rope_scaling")) {
            throw new FormatException(where, "rope_scaling " + cfg.get("rope_scaling") + " is not supported by ONNX "
                    + "export (plain rotary embeddings only)");
        }
        for (String bias : List.of("attention_bias", "mlp_bias")) {
            if (cfg.path(bias).asBoolean(false)) {
                throw new FormatException(where, bias + " is true; ONNX export supports Llama models without biases");
            }
        }
        String act = f.text("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new FormatException(where, "hidden_act '" + act + "' is not supported (Llama uses silu)");
        }
        int hidden = f.positive("hidden_size", null);
        int heads = f.positive("num_attention_heads", null);
        int kvHeads = f.positive("num_key_value_heads", heads);
        int headDim = f.positive("head_dim", hidden % heads == 0 ? hidden / heads : null);
        if (heads % kvHeads != 0) {
            throw new FormatException(where, "num_attention_heads " + heads + " is not a multiple of num_key_value_heads "
                    + kvHeads);
        }
        if (headDim % 2 != 0) {
            throw new FormatException(where, "head_dim " + headDim + " is odd; rotary embeddings need an even one");
        }
        boolean tied = cfg.path("tie_word_embeddings").asBoolean(false);
        Map<String, JsonNode> gen = generationIds(c);
        List<Integer> eos = ids(where, gen.containsKey("eos_token_id") ? gen.get("eos_token_id") : cfg.get("eos_token_id"));
        JsonNode bos = gen.containsKey("bos_token_id") ? gen.get("bos_token_id") : cfg.get("bos_token_id");
        List<Integer> bosIds = ids(where, bos);
        LlamaConfig lc = new LlamaConfig(hidden, f.positive("intermediate_size", null), f.positive("num_hidden_layers", null),
                heads, kvHeads, headDim, f.positive("vocab_size", null), f.number("rms_norm_eps", 1e-6),
                f.number("rope_theta", 10000.0), tied, f.positive("max_position_embeddings", 2048),
                bosIds.isEmpty() ? null : bosIds.getFirst(), eos);
        lc.checkTensors(c);
        return lc;
    }

    private void checkTensors(Checkpoint c) throws FormatException {
        Map<String, TensorInfo> have = new LinkedHashMap<>();
        for (TensorInfo t : c.tensors()) {
            have.put(t.name(), t);
        }
        for (Map.Entry<String, long[]> e : weightShapes().entrySet()) {
            TensorInfo t = have.get(e.getKey());
            if (t == null) {
                throw new FormatException(c.path(), e.getKey(), "is missing; a Llama model with this config.json needs it"
                        + (e.getKey().equals(LM_HEAD) ? " (tie_word_embeddings is false)" : ""));
            }
            if (!Arrays.equals(t.shape(), e.getValue())) {
                throw new FormatException(c.path(), e.getKey(), "has shape " + t.shapeString() + " but config.json "
                        + "implies " + Arrays.toString(e.getValue()));
            }
            if (!t.dtype().isFloat()) {
                throw new FormatException(c.path(), e.getKey(), "is " + t.dtype() + ", not a floating-point type");
            }
        }
    }

    /** bos/eos ids from generation_config.json, when the checkpoint carries one. */
    private static Map<String, JsonNode> generationIds(Checkpoint c) throws IOException {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        for (AuxFile a : c.auxFiles()) {
            if (!a.name().equals("generation_config.json")) {
                continue;
            }
            Path file = a.source() != null ? a.source() : c.path().resolve(a.name());
            JsonNode g = a.source() != null ? Json.readObjectFile(a.source())
                    : Json.parse(file, a.content(), "generation_config.json");
            for (String key : List.of("bos_token_id", "eos_token_id")) {
                if (g.has(key)) {
                    out.put(key, g.get(key));
                }
            }
        }
        return out;
    }

    private static List<Integer> ids(Path where, JsonNode n) throws FormatException {
        List<Integer> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        for (JsonNode x : n.isArray() ? n : List.of(n)) {
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.intValue() < 0) {
                throw new FormatException(where, "token id " + x + " is not a non-negative integer");
            }
            out.add(x.intValue());
        }
        return out;
    }

    /** Typed access to config.json fields with one-line errors naming the file. */
    private record Fields(Path file, ObjectNode cfg) {
        int positive(String key, Integer dflt) throws FormatException {
            JsonNode n = cfg.get(key);
            if (n == null || n.isNull()) {
                if (dflt == null) {
                    throw new FormatException(file, key + " is missing");
                }
                return dflt;
            }
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() <= 0) {
                throw new FormatException(file, key + " is " + n + ", not a positive integer");
            }
            return n.intValue();
        }

        double number(String key, double dflt) throws FormatException {
            JsonNode n = cfg.get(key);
            if (n == null || n.isNull()) {
                return dflt;
            }
            if (!n.isNumber() || !(n.doubleValue() > 0) || Double.isInfinite(n.doubleValue())) {
                throw new FormatException(file, key + " is " + n + ", not a positive number");
            }
            return n.doubleValue();
        }

        String text(String key, String dflt) {
            JsonNode n = cfg.get(key);
            return n == null || n.isNull() ? dflt : n.asText();
        }
    }
}
