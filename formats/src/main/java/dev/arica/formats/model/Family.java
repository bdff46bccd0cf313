package dev.arica.formats.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One model family, described once: the names Hugging Face gives it, its hyper-parameters read from config.json,
 * and the table of its tensors. Everything after reading (quantize's choice, upscale, inspect, ONNX export) works
 * from this description; adding a family is one more implementation (and one graph block in the runtime).
 */
public interface Family<C extends ModelConfig> {
    /** Short name: "llama", "gemma2", ... (arica-genai.json's model_type). */
    String id();

    /** config.json {@code architectures} values of this family. */
    Set<String> architectures();

    /** config.json {@code model_type} values of this family. */
    Set<String> modelTypes();

    /** The config.json keys that may hold the layer count, preferred first (GPT-2 says n_layer). */
    default List<String> layerCountKeys() {
        return List.of("num_hidden_layers");
    }

    /** The hyper-parameters, checked; anything the exported graph would not reproduce is refused, naming the key. */
    C config(ConfigFields cfg, TokenIds ids) throws FormatException;

    /** The tensors of a model with this configuration; {@code names} are the checkpoint's (for naming variants). */
    TensorTable tensors(C c, Set<String> names);

    /** The tensors of the model {@code cfg} describes: {@link #config} and {@link #tensors} in one step. */
    default TensorTable table(ConfigFields cfg, TokenIds ids, Set<String> names) throws FormatException {
        return tensors(config(cfg, ids), names);
    }

    /** config.json and the tensor table, for callers that need both without knowing the family's kind. */
    default ModelDescription describe(ConfigFields cfg, TokenIds ids, Set<String> names) throws FormatException {
        C c = config(cfg, ids);
        return new ModelDescription(this, c, tensors(c, names));
    }

    /**
     * config.json with every per-layer setting the family derives from the layer index written out (Gemma-2's
     * sliding layers without layer_types are the even ones), so that layers moved to other indices keep theirs.
     */
    default void writeLayerSettings(ObjectNode config, int layers) {}

    /** Why SOLAR-style depth up-scaling (layers copied whole into a deeper stack) does not apply; empty when it does. */
    default Optional<String> notUpscalable() {
        return Optional.empty();
    }

    /** The begin- and end-of-sequence ids, generation_config.json's when it has them. */
    record TokenIds(Integer bos, List<Integer> eos) {
        public TokenIds {
            eos = List.copyOf(eos);
        }
    }
}
