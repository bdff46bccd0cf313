package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Where a tensor sits in the stack, by the same names that decide what is quantized. */
class TensorSelectionTest {

    @Test
    void aLayerTensorIsPlacedByItsNumberAndItsNameWithinTheLayer() {
        assertEquals(Optional.of(new TensorSelection.LayerPlace(3, "self_attn.q_proj.weight")),
                TensorSelection.layerPlace("model.layers.3.self_attn.q_proj.weight"));
        assertEquals(Optional.of(new TensorSelection.LayerPlace(11, "attn.c_attn.weight")),
                TensorSelection.layerPlace("transformer.h.11.attn.c_attn.weight"));
        assertEquals(Optional.of(new TensorSelection.LayerPlace(0, "attention.self.query.weight")),
                TensorSelection.layerPlace("bert.encoder.layer.0.attention.self.query.weight"));
        assertEquals(Optional.of(new TensorSelection.LayerPlace(2, "mlp.<up> & 'x'.weight")),
                TensorSelection.layerPlace("blocks.2.mlp.<up> & 'x'.weight"));
        // Every name placed in a layer is one the selection quantizes as a layer weight, and the reverse.
        for (String name : new String[] {"model.layers.3.mlp.up_proj.weight", "model.embed_tokens.weight", "lm_head.weight",
            "model.norm.weight", "transformer.wte.weight", "model.flayers.3.x.weight", "layers.99999999999.x.weight"}) {
            assertEquals(TensorSelection.role(name) == TensorSelection.Role.LAYER, TensorSelection.layerPlace(name).isPresent()
                    || name.contains("99999999999"), name);
        }
        assertEquals(Optional.empty(), TensorSelection.layerPlace("model.embed_tokens.weight"));
        assertEquals(Optional.empty(), TensorSelection.layerPlace("layers.99999999999.x.weight"), "no int layer number");
    }
}
