package dev.arica.upscale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.Families;
import dev.arica.formats.model.Family;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The layer-related part of a config.json: the layer count (under the key its family uses: GPT-2's
 * {@code n_layer}, most others' {@code num_hidden_layers}) and the lists that hold one entry per layer, re-indexed
 * with the layer map so that every copied layer keeps its own settings.
 */
public final class LayerConfig {
    /** The layer count's key of models arica does not describe. */
    public static final String LAYERS_KEY = "num_hidden_layers";

    /** Per-layer lists of known models (Qwen 3, Gemma 3, SmolLM 3, Llama 4): their length must be n. */
    private static final Set<String> KNOWN_PER_LAYER = Set.of("layer_types", "no_rope_layers");

    /** Per-layer strings, one character per layer (Nemotron-H's "M-M*-..."). */
    private static final Set<String> KNOWN_PER_LAYER_STRINGS = Set.of("hybrid_override_pattern");

    /** Lists of layer indices (Qwen MoE's dense layers, Llama 4's MoE layers): indices are mapped, not entries. */
    private static final Set<String> INDEX_LISTS = Set.of("mlp_only_layers", "moe_layers");

    /** Top-level arrays that are never per-layer, whatever their length. */
    private static final Set<String> NOT_PER_LAYER = Set.of("architectures", "suppress_tokens", "begin_suppress_tokens",
            "bad_words_ids", "forced_decoder_ids");

    private LayerConfig() {}

    /** {@code config} with its family's per-layer settings written out (unchanged for families without any). */
    static ObjectNode explicit(Path file, ObjectNode config) throws FormatException {
        ConfigFields f = new ConfigFields(file, config);
        Optional<Family<?>> family = Families.declared(f);
        if (family.isEmpty()) {
            return config;
        }
        ObjectNode out = config.deepCopy();
        family.get().writeLayerSettings(out, sourceLayers(file, config));
        return out;
    }

    /** The key holding the layer count: the first of its family's keys that config.json has. */
    public static String layersKey(Path file, ObjectNode config) throws FormatException {
        List<String> keys = Families.declared(new ConfigFields(file, config)).map(Family::layerCountKeys)
                .orElse(List.of(LAYERS_KEY));
        return keys.stream().filter(config::hasNonNull).findFirst().orElse(keys.getFirst());
    }

    /** The layer count of {@code config}, or a FormatException naming {@code file}. */
    public static int sourceLayers(Path file, ObjectNode config) throws FormatException {
        Optional<String> refused = Families.declared(new ConfigFields(file, config)).flatMap(Family::notUpscalable);
        if (refused.isPresent()) {
            throw new FormatException(file, refused.get());
        }
        String key = layersKey(file, config);
        JsonNode n = config.get(key);
        if (n == null || n.isNull()) {
            throw new FormatException(file, "has no \"" + key + "\": upscale needs the model's layer count");
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 1) {
            throw new FormatException(file, "\"" + key + "\" is " + n + ", not a positive integer");
        }
        return n.intValue();
    }

    /**
     * The keys {@link #upscaled} re-indexes: the known per-layer lists and strings, the index lists, and any
     * other top-level array of exactly n entries (not a token id list). A known key of another length is
     * refused, since its layers could not be told apart.
     */
    public static List<String> perLayerKeys(Path file, ObjectNode config, int layers) throws FormatException {
        List<String> out = new ArrayList<>();
        String countKey = layersKey(file, config);
        for (Map.Entry<String, JsonNode> e : config.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (INDEX_LISTS.contains(key) && v.isArray()) {
                for (JsonNode i : v) {
                    if (!i.isIntegralNumber() || !i.canConvertToInt() || i.intValue() < 0 || i.intValue() >= layers) {
                        throw new FormatException(file, "\"" + key + "\" holds " + i + ", not a layer of 0.." + (layers - 1));
                    }
                }
                out.add(key);
            } else if (KNOWN_PER_LAYER_STRINGS.contains(key) && v.isTextual()) {
                requireLength(file, key, countKey, v.textValue().length(), layers);
                out.add(key);
            } else if (KNOWN_PER_LAYER.contains(key) && v.isArray()) {
                requireLength(file, key, countKey, v.size(), layers);
                out.add(key);
            } else if (v.isArray() && v.size() == layers && !NOT_PER_LAYER.contains(key) && !key.endsWith("_token_id")
                    && !key.endsWith("_token_ids")) {
                out.add(key);
            }
        }
        return out;
    }

    private static void requireLength(Path file, String key, String countKey, int length, int layers) throws FormatException {
        if (length != layers) {
            throw new FormatException(file, "\"" + key + "\" has " + length + " entries but \"" + countKey + "\" is "
                    + layers + ": it must have one per layer");
        }
    }

    /**
     * A copy of {@code config} for the output: the new layer count, every per-layer key re-indexed; settings a
     * described family derives from the layer index (Gemma-2's sliding layers) are written out first.
     */
    public static ObjectNode upscaled(Path file, ObjectNode input, LayerMap map) throws FormatException {
        ObjectNode config = explicit(file, input);
        ObjectNode out = config.deepCopy();
        int[] sources = map.sources();
        for (String key : perLayerKeys(file, config, map.sourceLayers())) {
            JsonNode v = config.get(key);
            if (INDEX_LISTS.contains(key)) {
                Set<Integer> old = new TreeSet<>();
                v.forEach(i -> old.add(i.intValue()));
                ArrayNode a = out.putArray(key);
                for (int j = 0; j < sources.length; j++) {
                    if (old.contains(sources[j])) {
                        a.add(j);
                    }
                }
            } else if (v.isTextual()) {
                StringBuilder b = new StringBuilder();
                for (int s : sources) {
                    b.append(v.textValue().charAt(s));
                }
                out.put(key, b.toString());
            } else {
                ArrayNode a = out.putArray(key);
                for (int s : sources) {
                    a.add(v.get(s).deepCopy());
                }
            }
        }
        out.put(layersKey(file, config), map.layers());
        return out;
    }
}
