package dev.arica.upscale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigEstimateTest {
    private static final Path FILE = Path.of("config.json");

    static ObjectNode mistral7b() {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.put("hidden_size", 4096).put("intermediate_size", 14336).put("num_hidden_layers", 32)
                .put("num_attention_heads", 32).put("num_key_value_heads", 8).put("vocab_size", 32000)
                .put("tie_word_embeddings", false).put("torch_dtype", "bfloat16");
        return c;
    }

    @Test
    void mistral7bHas7Point24BillionParametersAndSolarItsUpscale10Point7() throws Exception {
        ConfigEstimate e = ConfigEstimate.of(FILE, mistral7b());
        // head_dim 4096 / 32 = 128; k and v have 8 x 128 = 1024 rows.
        long perLayer = 4096L * 4096 // q
                + 2 * 4096L * 1024 // k, v
                + 4096L * 4096 // o
                + 3 * 4096L * 14336 // gate, up, down
                + 2 * 4096; // two norms
        assertEquals(218_112_000L, perLayer);
        assertEquals(perLayer, e.perLayer());
        long embedding = 32000L * 4096;
        assertEquals(embedding + 32 * perLayer + 4096 + embedding, e.parameters(32));
        assertEquals(7_241_732_096L, e.parameters(32), "Mistral-7B-v0.1's published count");
        assertEquals(10_731_524_096L, e.parameters(48), "SOLAR-10.7B's shape: 48 layers");
        assertEquals(2 * 10_731_524_096L, e.bytes(48), "bfloat16: 2 bytes a parameter");
    }

    @Test
    void tiedEmbeddingsGivenHeadDimAndDefaults() throws Exception {
        ObjectNode c = mistral7b();
        c.put("tie_word_embeddings", true).put("head_dim", 64).remove("torch_dtype");
        ConfigEstimate e = ConfigEstimate.of(FILE, c);
        assertEquals(0, e.head());
        assertEquals(4096L * 32 * 64 * 2 + 2 * 4096L * 8 * 64 + 3 * 4096L * 14336 + 2 * 4096, e.perLayer());
        assertEquals("float32", e.dtype(), "no torch_dtype: transformers loads float32");
        assertEquals(4, e.bytesPerParameter());
        c.remove("num_key_value_heads");
        assertEquals(4096L * 32 * 64 * 4 + 3 * 4096L * 14336 + 2 * 4096, ConfigEstimate.of(FILE, c).perLayer(),
                "no num_key_value_heads: as many as the query heads");
        c.put("dtype", "float16");
        assertEquals(2, ConfigEstimate.of(FILE, c).bytesPerParameter(), "newer configs name it dtype");
    }

    @Test
    void missingOrBadSizesAreRefusedNamingTheKey() {
        ObjectNode c = mistral7b();
        c.remove("intermediate_size");
        FormatException e = assertThrows(FormatException.class, () -> ConfigEstimate.of(FILE, c));
        assertTrue(e.getMessage().endsWith("intermediate_size is missing"), e.getMessage());
        ObjectNode d = mistral7b();
        d.put("hidden_size", -1);
        assertThrows(FormatException.class, () -> ConfigEstimate.of(FILE, d));
        ObjectNode t = mistral7b();
        t.put("torch_dtype", "complex32");
        assertThrows(FormatException.class, () -> ConfigEstimate.of(FILE, t));
        ObjectNode h = mistral7b();
        h.put("num_attention_heads", 3);
        assertThrows(FormatException.class, () -> ConfigEstimate.of(FILE, h), "4096 does not split into 3 heads");
    }
}
