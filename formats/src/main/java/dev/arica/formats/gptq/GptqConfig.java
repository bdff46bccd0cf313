package dev.arica.formats.gptq;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ConfigFields;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How a GPTQ checkpoint was quantized, from AutoGPTQ's {@code quantize_config.json} or, failing that, the
 * {@code quantization_config} object of config.json (transformers/optimum) when its {@code quant_method} is "gptq".
 *
 * @param bits 4 or 8 (the widths arica stores as int4/int8)
 * @param groupSize input rows per group, or -1 for one group over all of them
 * @param sym whether the quantizer was symmetric (zero point 2^(bits-1) everywhere); informative, the zero points
 *     are always read from qzeros
 * @param descAct whether the rows were quantized in activation order (g_idx not k / group_size)
 * @param format how qzeros are stored
 * @param file the file this was read from
 */
public record GptqConfig(int bits, int groupSize, boolean sym, boolean descAct, Format format, Path file) {

    /** AutoGPTQ's name for the quantization description beside config.json. */
    public static final String FILE = "quantize_config.json";

    /** The key of config.json holding the same description. */
    public static final String CONFIG_KEY = "quantization_config";

    /** How the zero points are stored. */
    public enum Format {
        /** AutoGPTQ's "gptq" (also assumed when the key is absent): each zero point stored minus one. */
        V1("gptq"),
        /** GPTQModel's "gptq_v2": the zero points as they are. */
        V2("gptq_v2");

        /** The value of {@code checkpoint_format}. */
        public final String id;

        Format(String id) {
            this.id = id;
        }
    }

    /**
     * The GPTQ description of a checkpoint directory, empty when it is not a GPTQ checkpoint (no quantize_config.json,
     * and config.json's quantization_config absent or of another method); an unreadable or unsupported one is refused.
     */
    public static Optional<GptqConfig> of(Path dir, ObjectNode config) throws IOException {
        Path file = dir.resolve(FILE);
        if (Files.isRegularFile(file)) {
            return Optional.of(parse(new ConfigFields(file, Json.readObjectFile(file))));
        }
        if (config == null || !(config.get(CONFIG_KEY) instanceof ObjectNode)) {
            return Optional.empty();
        }
        ConfigFields q = new ConfigFields(dir.resolve("config.json"), config).object(CONFIG_KEY);
        if (!"gptq".equals(q.text("quant_method", ""))) {
            return Optional.empty();
        }
        return Optional.of(parse(q));
    }

    private static GptqConfig parse(ConfigFields q) throws FormatException {
        String method = q.text("quant_method", "gptq");
        if (!method.equals("gptq")) {
            throw q.error(q.nameOf("quant_method") + " is '" + method + "', not 'gptq'");
        }
        int bits = q.positive("bits");
        if (bits != 4 && bits != 8) {
            throw q.error(q.nameOf("bits") + " is " + bits + ": arica reads GPTQ checkpoints of 4 or 8 bits");
        }
        JsonNode g = q.json().get("group_size");
        if (g == null || !g.isIntegralNumber() || !g.canConvertToInt() || (g.intValue() <= 0 && g.intValue() != -1)) {
            throw q.error(q.nameOf("group_size") + " is " + g + ", not a positive integer or -1");
        }
        String format = q.text("checkpoint_format", Format.V1.id);
        Format f = switch (format) {
            case "gptq" -> Format.V1;
            case "gptq_v2" -> Format.V2;
            default -> throw q.error(q.nameOf("checkpoint_format") + " is '" + format
                    + "': arica reads 'gptq' (v1) and 'gptq_v2' checkpoints");
        };
        return new GptqConfig(bits, g.intValue(), q.bool("sym", true), q.bool("desc_act", false), f, q.file());
    }

    /** Input rows per group of a layer with {@code in} input features. */
    public int groupRows(int in) {
        return groupSize == -1 ? in : groupSize;
    }

    /** Groups of a layer with {@code in} input features. */
    public int groups(int in) {
        int rows = groupRows(in);
        return rows == 0 ? 0 : (in + rows - 1) / rows;
    }

    /** Codes in one int32 word. */
    public int perWord() {
        return 32 / bits;
    }

    /** "4 bits, groups of 32, symmetric, desc_act false, format gptq (v1)". */
    public String describe() {
        return bits + " bits, " + (groupSize == -1 ? "one group per row" : "groups of " + groupSize) + ", "
                + (sym ? "symmetric" : "asymmetric") + ", desc_act " + descAct + ", format " + format.id
                + (format == Format.V1 ? " (v1: zero points stored minus one)" : " (v2: true zero points)");
    }
}
