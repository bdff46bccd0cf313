package dev.arica.formats.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A bundled reference checkpoint of a family (tiny-gemma2, tiny-falcon, tiny-gpt2, ...): its directory, the greedy
 * reference ({@code reference/greedy.json}) and the teacher-forced logits ({@code reference/logits.f32}) with the
 * ids they were computed over (the greedy ids, or GPT-2's {@code cases.json} input).
 */
public record ReferenceModel(String name) {

    public Path dir() {
        return TestModels.dir(name);
    }

    private JsonNode greedyJson() throws IOException {
        return Json.readObjectFile(dir().resolve("reference/greedy.json"));
    }

    /** The greedy prompt. */
    public long[] promptIds() throws IOException {
        return longs(greedyJson().get("prompt_ids"));
    }

    /** The prompt followed by the greedy continuation. */
    public long[] greedyIds() throws IOException {
        return longs(greedyJson().get("ids"));
    }

    /** The ids {@code reference/logits.f32} was computed over. */
    public long[] logitIds() throws IOException {
        Path cases = dir().resolve("reference/cases.json");
        if (Files.isRegularFile(cases)) {
            JsonNode ids = Json.readObjectFile(cases).path("logits").path("input_ids");
            if (ids.isArray()) {
                return longs(ids);
            }
        }
        return greedyIds();
    }

    /** {@code reference/logits.f32} as [positions][vocab]. */
    public float[][] logits(int vocab) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir().resolve("reference/logits.f32"))).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() % (vocab * Float.BYTES) != 0) {
            throw new IllegalStateException(name + ": logits.f32 is not a whole number of rows of " + vocab);
        }
        float[][] rows = new float[b.remaining() / (vocab * Float.BYTES)][vocab];
        for (float[] row : rows) {
            for (int i = 0; i < vocab; i++) {
                row[i] = b.getFloat();
            }
        }
        return rows;
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).longValue();
        }
        return out;
    }
}
