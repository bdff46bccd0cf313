package dev.arica.formats.gguf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import java.nio.file.Path;
import java.util.Collection;
import java.util.OptionalDouble;
import java.util.regex.Pattern;

/**
 * The Hugging Face config.json of a GGUF {@code llama} model, from its hyper-parameters ({@code llama.*}), its tensors
 * (a separate {@code output.weight} means untied embeddings; biases) and its tokenizer's special ids, as transformers'
 * LlamaConfig names them. What GGUF stores as float32 is written as the shortest decimal of that float (1e-05, not
 * 9.999999747378752e-06).
 */
final class GgufLlamaConfig {
    /** The rotary tensor llama.cpp stores for Llama 3.1-style frequency scaling; HF computes it from rope_scaling. */
    static final String ROPE_FREQS = "rope_freqs.weight";
    private static final Pattern ATTENTION_BIAS = Pattern.compile("blk\\.\\d+\\.attn_[qkv]\\.bias");
    private static final Pattern MLP_BIAS = Pattern.compile("blk\\.\\d+\\.ffn_(gate|up|down)\\.bias");

    private GgufLlamaConfig() {}

    /**
     * @param ggufNames the names of the file's tensors
     * @param vocabRows rows of token_embd, the vocabulary size when llama.vocab_size is absent (-1: unknown)
     */
    static ObjectNode of(Path file, GgufMetadata m, Collection<String> ggufNames, long vocabRows) throws FormatException {
        String a = GgufTensorNames.LLAMA;
        int max = Integer.MAX_VALUE;
        int hidden = m.requiredInt(GgufKeys.of(a, GgufKeys.EMBEDDING_LENGTH), 1, max);
        int heads = m.requiredInt(GgufKeys.of(a, GgufKeys.HEAD_COUNT), 1, max);
        int kvHeads = m.intOr(GgufKeys.of(a, GgufKeys.HEAD_COUNT_KV), 1, heads, heads);
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", m.requiredInt(GgufKeys.of(a, GgufKeys.FEED_FORWARD_LENGTH), 1, max));
        c.put("num_hidden_layers", m.requiredInt(GgufKeys.of(a, GgufKeys.BLOCK_COUNT), 1, max));
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        int headDim = m.intOr(GgufKeys.of(a, GgufKeys.KEY_LENGTH), 1, max, hidden % heads == 0 ? hidden / heads : 0);
        if (headDim == 0) {
            throw new FormatException(file, "metadata '" + GgufKeys.of(a, GgufKeys.KEY_LENGTH) + "' is missing and "
                    + "the embedding length " + hidden + " is not a multiple of the " + heads + " heads");
        }
        c.put("head_dim", headDim);
        int vocab = m.intOr(GgufKeys.of(a, GgufKeys.VOCAB_SIZE), 1, max, vocabRows > 0 && vocabRows <= max
                ? (int) vocabRows : tokenCount(m));
        if (vocab > 0) {
            c.put("vocab_size", vocab);
        }
        if (m.has(GgufKeys.of(a, GgufKeys.CONTEXT_LENGTH))) {
            c.put("max_position_embeddings", m.requiredInt(GgufKeys.of(a, GgufKeys.CONTEXT_LENGTH), 1, max));
        }
        c.put("rms_norm_eps", shortest(m, GgufKeys.of(a, GgufKeys.RMS_EPSILON), 1e-5));
        c.put("rope_theta", shortest(m, GgufKeys.of(a, GgufKeys.ROPE_FREQ_BASE), 10000.0));
        ropeScaling(m, a, ggufNames, c);
        c.put("hidden_act", "silu");
        c.put("attention_bias", ggufNames.stream().anyMatch(n -> ATTENTION_BIAS.matcher(n).matches()));
        c.put("mlp_bias", ggufNames.stream().anyMatch(n -> MLP_BIAS.matcher(n).matches()));
        c.put("tie_word_embeddings", !ggufNames.contains("output.weight"));
        int n = tokenCount(m);
        putId(c, "bos_token_id", m, GgufKeys.BOS_ID, n);
        putId(c, "eos_token_id", m, GgufKeys.EOS_ID, n);
        c.put("torch_dtype", "float32");
        return c;
    }

    /**
     * rope_scaling for GGUF's rope.scaling.type (linear, yarn) as transformers names it; a rope_freqs.weight tensor
     * (per-frequency factors that GGUF keeps instead of Llama 3.1's rope_scaling parameters) becomes a rope_type that
     * says so, which export refuses and transformers does not take for plain rotary embeddings.
     */
    private static void ropeScaling(GgufMetadata m, String a, Collection<String> names, ObjectNode c)
            throws FormatException {
        String type = m.string(GgufKeys.of(a, GgufKeys.ROPE_SCALING_TYPE)).orElse("none");
        if (!type.equals("none")) {
            ObjectNode r = c.putObject("rope_scaling").put("rope_type", type).put("type", type);
            OptionalDouble factor = m.number(GgufKeys.of(a, GgufKeys.ROPE_SCALING_FACTOR));
            if (factor.isPresent()) {
                r.put("factor", factor.getAsDouble());
            }
            if (m.has(GgufKeys.of(a, GgufKeys.ROPE_SCALING_ORIGINAL_CONTEXT))) {
                r.put("original_max_position_embeddings", m.requiredInt(GgufKeys.of(a,
                        GgufKeys.ROPE_SCALING_ORIGINAL_CONTEXT), 1, Integer.MAX_VALUE));
            }
        } else if (names.contains(ROPE_FREQS)) {
            c.putObject("rope_scaling").put("rope_type", "gguf_rope_freqs").put("tensor", ROPE_FREQS);
        }
    }

    /** A float32 setting as the shortest decimal that reads back as that float. */
    private static double shortest(GgufMetadata m, String key, double absent) throws FormatException {
        OptionalDouble v = m.number(key);
        if (v.isEmpty()) {
            return absent;
        }
        boolean f32 = m.get(key).map(x -> x.type() == GgufValueType.FLOAT32).orElse(false);
        return f32 ? Double.parseDouble(Float.toString((float) v.getAsDouble())) : v.getAsDouble();
    }

    private static int tokenCount(GgufMetadata m) throws FormatException {
        return m.array(GgufKeys.TOKENS, GgufValueType.STRING).map(t -> (int) Math.min(t.size(), Integer.MAX_VALUE))
                .orElse(0);
    }

    private static void putId(ObjectNode c, String field, GgufMetadata m, String key, int vocab) throws FormatException {
        if (m.has(key)) {
            c.put(field, m.intOr(key, 0, vocab > 0 ? vocab - 1 : Integer.MAX_VALUE, 0));
        }
    }

    /** generation_config.json: the tokenizer's BOS and EOS ids, when the file gives them; null when it gives neither. */
    static ObjectNode generation(GgufMetadata m) throws FormatException {
        int n = tokenCount(m);
        ObjectNode g = Json.MAPPER.createObjectNode();
        putId(g, "bos_token_id", m, GgufKeys.BOS_ID, n);
        putId(g, "eos_token_id", m, GgufKeys.EOS_ID, n);
        return g.isEmpty() ? null : g;
    }
}
