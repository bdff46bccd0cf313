package dev.arica.upscale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import java.nio.file.Path;

/**
 * Parameters of a Llama-shaped decoder computed from its config.json alone, so that an up-scaling can be
 * planned before the weights are downloaded: embeddings vocab x hidden; per layer q, k, v, o (k and v with
 * num_key_value_heads x head_dim rows, head_dim = hidden / heads unless given), gate, up, down and two
 * norms; the final norm; lm_head unless tie_word_embeddings (absent: untied, as Llama and Mistral default).
 *
 * @param dtype the config's torch_dtype (or dtype); float32 when it names none, as transformers loads
 */
public record ConfigEstimate(long embedding, long perLayer, long finalNorm, long head, String dtype, int bytesPerParameter) {

    public static ConfigEstimate of(Path file, ObjectNode config) throws FormatException {
        long vocab = positive(file, config, "vocab_size");
        long hidden = positive(file, config, "hidden_size");
        long intermediate = positive(file, config, "intermediate_size");
        long heads = positive(file, config, "num_attention_heads");
        long kvHeads = has(config, "num_key_value_heads") ? positive(file, config, "num_key_value_heads") : heads;
        long headDim;
        if (has(config, "head_dim")) {
            headDim = positive(file, config, "head_dim");
        } else if (hidden % heads == 0) {
            headDim = hidden / heads;
        } else {
            throw new FormatException(file, "\"hidden_size\" " + hidden + " is not a multiple of \"num_attention_heads\" "
                    + heads + ", and there is no \"head_dim\"");
        }
        boolean tied = config.path("tie_word_embeddings").asBoolean(false);
        long q = hidden * heads * headDim;
        long kv = hidden * kvHeads * headDim;
        long o = heads * headDim * hidden;
        long mlp = 3 * hidden * intermediate;
        long perLayer = q + 2 * kv + o + mlp + 2 * hidden;
        String dtype = dtype(config);
        int bytes = switch (dtype) {
            case "float32" -> 4;
            case "float16", "bfloat16" -> 2;
            case "float64" -> 8;
            case "float8_e4m3fn", "float8_e5m2", "int8", "uint8" -> 1;
            default -> throw new FormatException(file, "\"torch_dtype\" is '" + dtype + "', a type whose size arica "
                    + "does not know");
        };
        return new ConfigEstimate(vocab * hidden, perLayer, hidden, tied ? 0 : vocab * hidden, dtype, bytes);
    }

    /** Parameters of the model with {@code layers} layers. */
    public long parameters(int layers) {
        return Math.addExact(Math.addExact(embedding, Math.multiplyExact(perLayer, (long) layers)), finalNorm + head);
    }

    /** Bytes of the model with {@code layers} layers, every parameter of the config's dtype. */
    public long bytes(int layers) {
        return Math.multiplyExact(parameters(layers), (long) bytesPerParameter);
    }

    private static String dtype(ObjectNode config) {
        for (String key : new String[] {"torch_dtype", "dtype"}) {
            JsonNode v = config.get(key);
            if (v != null && v.isTextual()) {
                return v.textValue().startsWith("torch.") ? v.textValue().substring(6) : v.textValue();
            }
        }
        return "float32";
    }

    private static boolean has(ObjectNode config, String key) {
        return config.has(key) && !config.get(key).isNull();
    }

    private static long positive(Path file, ObjectNode config, String key) throws FormatException {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            throw new FormatException(file, "has no \"" + key + "\": the parameter count cannot be computed from the "
                    + "config alone");
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 1) {
            throw new FormatException(file, "\"" + key + "\" is " + v + ", not a positive integer");
        }
        return v.longValue();
    }
}
