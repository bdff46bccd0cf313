package dev.arica.upscale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.Families;
import dev.arica.formats.model.Family;
import dev.arica.formats.model.LlamaFamily;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.model.TensorTable;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Parameters of a decoder computed from its config.json alone, so that an up-scaling can be planned before the
 * weights are downloaded: the tensor table its family describes (Llama's when config.json names no family), counted
 * as embeddings (token and position tables), one layer, the final norm and the head.
 *
 * @param dtype the config's torch_dtype (or dtype); float32 when it names none, as transformers loads
 */
public record ConfigEstimate(long embedding, long perLayer, long finalNorm, long head, String dtype, int bytesPerParameter) {

    public static ConfigEstimate of(Path file, ObjectNode config) throws FormatException {
        ConfigFields f = new ConfigFields(file, config);
        Family<?> family = Families.declared(f).orElse(LlamaFamily.LLAMA);
        TensorTable table = family.table(f, new Family.TokenIds(null, List.of()), Set.of());
        long embedding = 0, perLayer = 0, finalNorm = 0, head = 0;
        for (TensorSpec t : table.specs()) {
            long n = 1;
            for (long d : t.shape()) {
                n = Math.multiplyExact(n, d);
            }
            if (t.layer() == 0) {
                perLayer += n;
            } else if (t.layer() < 0) {
                switch (t.role()) {
                    case EMBEDDING, POSITION_EMBEDDING -> embedding += n;
                    case HEAD -> head += n;
                    default -> finalNorm += n;
                }
            }
        }
        String dtype = dtype(config);
        int bytes = switch (dtype) {
            case "float32" -> 4;
            case "float16", "bfloat16" -> 2;
            case "float64" -> 8;
            case "float8_e4m3fn", "float8_e5m2", "int8", "uint8" -> 1;
            default -> throw new FormatException(file, "\"torch_dtype\" is '" + dtype + "', a type whose size arica "
                    + "does not know");
        };
        return new ConfigEstimate(embedding, perLayer, finalNorm, head, dtype, bytes);
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
}
