package dev.arica.runtime.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * {@code arica-genai.json}, written beside an exported {@code model.onnx}: what a decoder needs to run
 * the graph. Required: {@code num_layers}, {@code num_kv_heads}, {@code head_dim}, {@code vocab_size},
 * {@code eos_token_ids}, {@code dtype} (float32, float16 or bfloat16: the past key/value type). Optional:
 * {@code model} (default model.onnx), {@code tokenizer} (a file name in the directory; default: found
 * there), {@code bos_token_id} (null: none), {@code context_length} (0 or absent: unknown),
 * {@code inputs} and {@code outputs} (names; {@code {i}} stands for the layer; the defaults are the
 * ORT GenAI convention; {@code attention_mask} or {@code position_ids} null: the model has no such
 * input), {@code quantization} (an object when the graph runs quantized weights, as arica's export of an .arica
 * file writes it). Other keys are ignored.
 */
public record GenAiConfig(String model, String tokenizer, int numLayers, int numKvHeads, int headDim, int vocabSize,
                          int contextLength, int bosTokenId, int[] eosTokenIds, String dtype, Inputs inputs, Outputs outputs,
                          boolean quantized) {

    public static final String FILE = "arica-genai.json";
    public static final Set<String> DTYPES = Set.of("float32", "float16", "bfloat16");

    /** Input names; {@code pastKey}/{@code pastValue} contain {@code {i}}. Null mask or positions: not an input. */
    public record Inputs(String inputIds, String attentionMask, String positionIds, String pastKey, String pastValue) {
        public static final Inputs DEFAULT = new Inputs("input_ids", "attention_mask", "position_ids",
                "past_key_values.{i}.key", "past_key_values.{i}.value");
    }

    public record Outputs(String logits, String presentKey, String presentValue) {
        public static final Outputs DEFAULT = new Outputs("logits", "present.{i}.key", "present.{i}.value");
    }

    public GenAiConfig {
        eosTokenIds = eosTokenIds.clone();
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    public String pastKey(int layer) {
        return inputs.pastKey.replace("{i}", Integer.toString(layer));
    }

    public String pastValue(int layer) {
        return inputs.pastValue.replace("{i}", Integer.toString(layer));
    }

    public String presentKey(int layer) {
        return outputs.presentKey.replace("{i}", Integer.toString(layer));
    }

    public String presentValue(int layer) {
        return outputs.presentValue.replace("{i}", Integer.toString(layer));
    }

    /** Reads and checks the file; any problem is a one-line FormatException naming it. */
    public static GenAiConfig read(Path file) throws IOException {
        ObjectNode o = Json.readObjectFile(file);
        JsonNode version = o.get("format_version");
        if (o.path("format").asText("").equals("arica-genai") && version != null && version.isInt() && version.intValue() < 2) {
            throw new FormatException(file, "was written by an older arica export (format_version " + version.intValue()
                    + ", other key names); export the model again");
        }
        Fields f = new Fields(file, o);
        int layers = f.positive("num_layers");
        int kvHeads = f.positive("num_kv_heads");
        int headDim = f.positive("head_dim");
        int vocab = f.positive("vocab_size");
        JsonNode eosNode = o.get("eos_token_ids");
        if (eosNode == null || !eosNode.isArray() || eosNode.isEmpty()) {
            throw new FormatException(file, "eos_token_ids must be a non-empty array of token ids");
        }
        int[] eos = new int[eosNode.size()];
        for (int i = 0; i < eos.length; i++) {
            eos[i] = f.tokenId(eosNode.get(i), "eos_token_ids[" + i + "]", vocab);
        }
        JsonNode bosNode = o.get("bos_token_id");
        int bos = bosNode == null || bosNode.isNull() ? -1 : f.tokenId(bosNode, "bos_token_id", vocab);
        JsonNode ctxNode = o.get("context_length");
        int context = ctxNode == null || ctxNode.isNull() ? 0 : f.nonNegative(ctxNode, "context_length");
        String dtype = f.text(o, "dtype", null, false);
        if (!DTYPES.contains(dtype)) {
            throw new FormatException(file, "dtype '" + dtype + "' is not one of float32, float16, bfloat16");
        }
        String model = f.text(o, "model", "model.onnx", false);
        String tokenizer = f.text(o, "tokenizer", null, true);
        for (String name : Arrays.asList(model, tokenizer)) {
            if (name != null && (name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals("..") || name.equals("."))) {
                throw new FormatException(file, "'" + name + "' must be a file name in the model's directory");
            }
        }
        JsonNode in = f.object("inputs");
        JsonNode out = f.object("outputs");
        Inputs d = Inputs.DEFAULT;
        Inputs inputs = new Inputs(f.text(in, "input_ids", d.inputIds(), false), f.text(in, "attention_mask", d.attentionMask(), true),
                f.text(in, "position_ids", d.positionIds(), true), f.layerTemplate(in, "past_key", d.pastKey()),
                f.layerTemplate(in, "past_value", d.pastValue()));
        Outputs od = Outputs.DEFAULT;
        Outputs outputs = new Outputs(f.text(out, "logits", od.logits(), false), f.layerTemplate(out, "present_key", od.presentKey()),
                f.layerTemplate(out, "present_value", od.presentValue()));
        return new GenAiConfig(model, tokenizer, layers, kvHeads, headDim, vocab, context, bos, eos, dtype, inputs, outputs,
                o.path("quantization").isObject());
    }

    /** Field readers whose errors name the file and the field. */
    private record Fields(Path file, ObjectNode root) {
        int nonNegative(JsonNode v, String name) throws FormatException {
            if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
                throw new FormatException(file, name + (v == null ? " is missing" : " must be a non-negative integer, not " + v));
            }
            return v.intValue();
        }

        int positive(String name) throws FormatException {
            int v = nonNegative(root.get(name), name);
            if (v == 0) {
                throw new FormatException(file, name + " must be positive, not 0");
            }
            return v;
        }

        int tokenId(JsonNode v, String name, int vocab) throws FormatException {
            int id = nonNegative(v, name);
            if (id >= vocab) {
                throw new FormatException(file, name + " " + id + " is not below vocab_size " + vocab);
            }
            return id;
        }

        /** {@code parent.field}: absent gives {@code absent}; null is allowed only when {@code nullable}. */
        String text(JsonNode parent, String field, String absent, boolean nullable) throws FormatException {
            String where = parent == root ? field : parentName(parent) + "." + field;
            if (parent == null || !parent.has(field)) {
                if (absent == null && !nullable) {
                    throw new FormatException(file, where + " is missing");
                }
                return absent;
            }
            JsonNode v = parent.get(field);
            if (v.isNull() && nullable) {
                return null;
            }
            if (!v.isTextual() || v.textValue().isEmpty()) {
                throw new FormatException(file, where + " must be a non-empty string" + (nullable ? " or null" : "") + ", not " + v);
            }
            return v.textValue();
        }

        String layerTemplate(JsonNode parent, String field, String absent) throws FormatException {
            String t = text(parent, field, absent, false);
            if (!t.contains("{i}")) {
                throw new FormatException(file, parentName(parent) + "." + field + " '" + t + "' must contain {i} for the layer number");
            }
            return t;
        }

        JsonNode object(String name) throws FormatException {
            JsonNode v = root.get(name);
            if (v == null) {
                return null;
            }
            if (!v.isObject()) {
                throw new FormatException(file, name + " must be an object of names");
            }
            return v;
        }

        private String parentName(JsonNode parent) {
            return parent == null ? "?" : parent == root.get("inputs") ? "inputs" : "outputs";
        }
    }
}
