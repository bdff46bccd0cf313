package dev.arica.upscale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class LayerConfigTest {
    private static final Path FILE = Path.of("config.json");

    private static ObjectNode config(String json) throws Exception {
        return (ObjectNode) Json.MAPPER.readTree(json);
    }

    @Test
    void layerCountAndPerLayerListsFollowTheMap() throws Exception {
        ObjectNode c = config("""
                {"num_hidden_layers": 4, "architectures": ["A", "B", "C", "D"], "eos_token_id": [1, 2, 3, 4],
                 "layer_types": ["s", "f", "s", "f"], "no_rope_layers": [1, 1, 0, 1], "ffn_multipliers": [0.5, 1, 2, 4],
                 "mlp_only_layers": [0, 3], "hybrid_override_pattern": "M-*M", "rope_scaling": {"factor": [1, 2, 3, 4]},
                 "max_window_layers": 2}""");
        LayerMap map = new LayerMap(4, Slice.parseList("0:3,1:4"));
        assertEquals(List.of("layer_types", "no_rope_layers", "ffn_multipliers", "mlp_only_layers", "hybrid_override_pattern"),
                LayerConfig.perLayerKeys(FILE, c, 4));
        ObjectNode out = LayerConfig.upscaled(FILE, c, map);
        // sources: 0 1 2 1 2 3
        assertEquals(6, out.get("num_hidden_layers").asInt());
        assertEquals("[\"s\",\"f\",\"s\",\"f\",\"s\",\"f\"]", out.get("layer_types").toString());
        assertEquals("[1,1,0,1,0,1]", out.get("no_rope_layers").toString());
        assertEquals("[0.5,1,2,1,2,4]", out.get("ffn_multipliers").toString());
        assertEquals("[0,5]", out.get("mlp_only_layers").toString(), "layer indices are mapped, not copied");
        assertEquals("M-*-*M", out.get("hybrid_override_pattern").asText());
        assertEquals(c.get("architectures"), out.get("architectures"), "never per-layer");
        assertEquals(c.get("eos_token_id"), out.get("eos_token_id"), "token ids are never per-layer");
        assertEquals(c.get("rope_scaling"), out.get("rope_scaling"), "nested objects are left alone");
        assertEquals(2, out.get("max_window_layers").asInt());
        assertEquals(4, c.get("num_hidden_layers").asInt(), "the input is not modified");
    }

    @Test
    void configWithoutALayerCountIsRefused() throws Exception {
        FormatException e = assertThrows(FormatException.class,
                () -> LayerConfig.sourceLayers(FILE, config("{\"n_layer\": 12}")));
        assertEquals("config.json: has no \"num_hidden_layers\": upscale needs the model's layer count", e.getMessage());
        assertThrows(FormatException.class, () -> LayerConfig.sourceLayers(FILE, config("{\"num_hidden_layers\": 0}")));
        assertThrows(FormatException.class, () -> LayerConfig.sourceLayers(FILE, config("{\"num_hidden_layers\": \"4\"}")));
        assertThrows(FormatException.class, () -> LayerConfig.sourceLayers(FILE, config("{\"num_hidden_layers\": null}")));
    }

    @Test
    void aKnownPerLayerListOfAnotherLengthIsRefused() throws Exception {
        FormatException e = assertThrows(FormatException.class, () -> LayerConfig.perLayerKeys(FILE,
                config("{\"num_hidden_layers\": 3, \"layer_types\": [\"a\", \"b\"]}"), 3));
        assertTrue(e.getMessage().contains("\"layer_types\" has 2 entries but \"num_hidden_layers\" is 3"), e.getMessage());
        assertThrows(FormatException.class, () -> LayerConfig.perLayerKeys(FILE,
                config("{\"num_hidden_layers\": 3, \"mlp_only_layers\": [3]}"), 3));
    }
}
