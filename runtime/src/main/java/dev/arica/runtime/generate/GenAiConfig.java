package dev.arica.runtime.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ConfigFields;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
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
 *
 * <p>A model whose state is not a key/value cache (a recurrent one) lists it instead in {@code state}: an array of
 * {@code {"input": past name, "output": present name, "shape": [...]}}, each dimension a number, {@code "batch_size"}
 * or {@code "past_sequence_length"} (at most one per entry: the axis that grows by the tokens fed); the first call
 * feeds zeros with past length 0. {@code num_kv_heads} and {@code head_dim} are then not needed.
 */
public record GenAiConfig(String model, String tokenizer, int numLayers, int numKvHeads, int headDim, int vocabSize,
                          int contextLength, int bosTokenId, int[] eosTokenIds, String dtype, Inputs inputs, Outputs outputs,
                          boolean quantized, List<State> states) {

    /**
     * One tensor of state carried from a call's output {@code present} to the next call's input {@code past}, of
     * {@code shape} at batch size 1 with the length along {@code growAxis} (-1: none) being the tokens fed so far.
     */
    public record State(String past, String present, long[] shape, int growAxis) {
        public State {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** The shape after {@code length} tokens. */
        public long[] shapeAt(long length) {
            long[] s = shape.clone();
            if (growAxis >= 0) {
                s[growAxis] = length;
            }
            return s;
        }
    }

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
        states = List.copyOf(states);
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    public String pastKey(int layer) {
        return layer(inputs.pastKey, layer);
    }

    public String pastValue(int layer) {
        return layer(inputs.pastValue, layer);
    }

    public String presentKey(int layer) {
        return layer(outputs.presentKey, layer);
    }

    public String presentValue(int layer) {
        return layer(outputs.presentValue, layer);
    }

    /** Reads and checks the file; any problem is a one-line FormatException naming it and the field. */
    public static GenAiConfig read(Path file) throws IOException {
        ObjectNode o = Json.readObjectFile(file);
        JsonNode version = o.get("format_version");
        if (o.path("format").asText("").equals("arica-genai") && version != null && version.isInt() && version.intValue() < 2) {
            throw new FormatException(file, "was written by an older arica export (format_version " + version.intValue()
                    + ", other key names); export the model again");
        }
        if (o.path("kind").asText("").equals("encoder")) {
            throw new FormatException(file, "describes an encoder (" + o.path("model_type").asText("?") + "), which does not "
                    + "generate; use embed or forward");
        }
        ConfigFields f = new ConfigFields(file, o);
        int layers = f.layers("num_layers");
        boolean kvCache = !o.has("state");
        int kvHeads = kvCache ? f.positive("num_kv_heads") : f.nonNegativeOr(0, "num_kv_heads");
        int headDim = kvCache ? f.positive("head_dim") : f.nonNegativeOr(0, "head_dim");
        int vocab = f.positive("vocab_size");
        List<Integer> eosIds = f.tokenIds("eos_token_ids");
        // Empty: a model without a stop token (a GGUF without tokenizer metadata); generation ends at its limits.
        if (!o.path("eos_token_ids").isArray()) {
            throw new FormatException(file, "eos_token_ids must be an array of token ids (empty when the model has none)");
        }
        int[] eos = new int[eosIds.size()];
        for (int i = 0; i < eos.length; i++) {
            eos[i] = eosIds.get(i);
            if (eos[i] >= vocab) {
                throw new FormatException(file, "eos_token_ids[" + i + "] " + eos[i] + " is not below vocab_size " + vocab);
            }
        }
        int bos = f.tokenIdOr(-1, "bos_token_id", vocab);
        int context = f.nonNegativeOr(0, "context_length");
        String dtype = f.name("dtype", null, false);
        if (!DTYPES.contains(dtype)) {
            throw new FormatException(file, "dtype '" + dtype + "' is not one of float32, float16, bfloat16");
        }
        String model = f.name("model", "model.onnx", false);
        String tokenizer = f.name("tokenizer", null, true);
        for (String name : Arrays.asList(model, tokenizer)) {
            if (name != null && (name.contains("/") || name.contains("\\") || name.equals("..") || name.equals("."))) {
                throw new FormatException(file, "'" + name + "' must be a file name in the model's directory");
            }
        }
        ConfigFields in = f.object("inputs");
        ConfigFields out = f.object("outputs");
        Inputs d = Inputs.DEFAULT;
        Inputs inputs = new Inputs(in.name("input_ids", d.inputIds(), false), in.name("attention_mask", d.attentionMask(), true),
                in.name("position_ids", d.positionIds(), true), layerTemplate(in, "past_key", d.pastKey()),
                layerTemplate(in, "past_value", d.pastValue()));
        Outputs od = Outputs.DEFAULT;
        Outputs outputs = new Outputs(out.name("logits", od.logits(), false), layerTemplate(out, "present_key", od.presentKey()),
                layerTemplate(out, "present_value", od.presentValue()));
        List<State> states = new ArrayList<>();
        if (kvCache) {
            for (int i = 0; i < layers; i++) {
                long[] shape = {1, kvHeads, 0, headDim};
                states.add(new State(layer(inputs.pastKey, i), layer(outputs.presentKey, i), shape, 2));
                states.add(new State(layer(inputs.pastValue, i), layer(outputs.presentValue, i), shape, 2));
            }
        } else {
            states.addAll(states(file, o.get("state")));
        }
        return new GenAiConfig(model, tokenizer, layers, kvHeads, headDim, vocab, context, bos, eos, dtype, inputs, outputs,
                o.path("quantization").isObject(), states);
    }

    /** The {@code state} array, checked: names unique, shapes of positive numbers with at most one growing axis. */
    private static List<State> states(Path file, JsonNode list) throws FormatException {
        if (!list.isArray() || list.isEmpty()) {
            throw new FormatException(file, "state must be a non-empty array of {input, output, shape}");
        }
        List<State> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode e = list.get(i);
            String where = "state[" + i + "]";
            if (!e.isObject()) {
                throw new FormatException(file, where + " must be an object");
            }
            ConfigFields f = new ConfigFields(file, (ObjectNode) e, where + ".");
            String past = f.name("input", null, false), present = f.name("output", null, false);
            for (String name : List.of(past, present)) {
                if (!names.add(name)) {
                    throw new FormatException(file, where + " names '" + name + "', which another state entry names too");
                }
            }
            JsonNode dims = e.get("shape");
            if (dims == null || !dims.isArray() || dims.isEmpty() || dims.size() > 8) {
                throw new FormatException(file, where + ".shape must be an array of 1 to 8 dimensions");
            }
            long[] shape = new long[dims.size()];
            int grow = -1;
            for (int d = 0; d < shape.length; d++) {
                JsonNode n = dims.get(d);
                if (n.isTextual() && n.textValue().equals("batch_size")) {
                    shape[d] = 1;
                } else if (n.isTextual() && n.textValue().equals("past_sequence_length") && grow < 0) {
                    grow = d;
                } else if (n.isIntegralNumber() && n.canConvertToInt() && n.intValue() > 0) {
                    shape[d] = n.intValue();
                } else {
                    throw new FormatException(file, where + ".shape[" + d + "] " + n + " is not a positive size, \"batch_size\" "
                            + "or (once) \"past_sequence_length\"");
                }
            }
            out.add(new State(past, present, shape, grow));
        }
        return out;
    }

    /** {@code template}'s name for layer {@code i}. */
    private static String layer(String template, int i) {
        return template.replace("{i}", Integer.toString(i));
    }

    /** A name pattern with {i} for the layer. */
    private static String layerTemplate(ConfigFields f, String field, String absent) throws FormatException {
        String t = f.name(field, absent, false);
        if (!t.contains("{i}")) {
            throw f.error(f.nameOf(field) + " '" + t + "' must contain {i} for the layer number");
        }
        return t;
    }
}
