package dev.arica.formats.model;

import dev.arica.formats.FormatException;

/** Consistency checks every family makes on its attention geometry. */
final class Checks {
    private Checks() {}

    /** rope_scaling changes the rotary angles in ways the exported graph does not reproduce: refused. */
    static void plainRotary(ConfigFields f) throws FormatException {
        if (f.has("rope_scaling")) {
            throw f.error("rope_scaling " + f.json().get("rope_scaling") + " is not supported by ONNX export (plain rotary "
                    + "embeddings only)");
        }
    }

    static void heads(ConfigFields f, int heads, int kvHeads, int headDim, boolean rotary) throws FormatException {
        if (heads % kvHeads != 0) {
            throw f.error("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (rotary && headDim % 2 != 0) {
            throw f.error("head_dim " + headDim + " is odd; rotary embeddings need an even one");
        }
    }
}
