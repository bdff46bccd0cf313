package dev.arica.formats.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The bundled stories260K checkpoint, its tokenizer and the reference C implementation's outputs. */
public final class Stories260K {
    private Stories260K() {}

    public static final int VOCAB = 512;
    /** Rows of {@code reference/logits_once_upon_a_time.f32}. */
    public static final int LOGIT_ROWS = 256;

    public static Path dir() {
        return TestModels.dir("stories260K");
    }

    /** {@code stories260K.bin}, the llama2.c checkpoint. */
    public static Path checkpoint() {
        return dir().resolve("stories260K.bin");
    }

    /** {@code tok512.bin}, the llama2.c tokenizer. */
    public static Path tokenizer() {
        return dir().resolve("tok512.bin");
    }

    /** The GGUF files of {@code gguf/}, written by llama.cpp: "f32", "q8_0" or "q4_0". */
    public static Path gguf(String type) {
        return dir().resolve("gguf/stories260K-" + type + ".gguf");
    }

    /** One line of {@code reference/greedy.jsonl}: ids are the whole sequence, prompt included. */
    public record Greedy(String prompt, int[] promptIds, int[] ids, String text) {
        public long[] promptIdsLong() {
            return longs(promptIds);
        }

        public long[] idsLong() {
            return longs(ids);
        }
    }

    public static List<Greedy> greedy() throws IOException {
        Path file = dir().resolve("reference/greedy.jsonl");
        List<Greedy> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = Json.parse(file, line.getBytes(StandardCharsets.UTF_8), "reference line");
            out.add(new Greedy(n.get("prompt").textValue(), ints(n.get("prompt_ids")), ints(n.get("ids")),
                    n.get("text").textValue()));
        }
        return out;
    }

    /** {@code reference/logits_once_upon_a_time.f32}: 256 rows of 512 little-endian floats. */
    public static float[][] referenceLogits() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir().resolve("reference/logits_once_upon_a_time.f32")))
                .order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() != LOGIT_ROWS * VOCAB * Float.BYTES) {
            throw new IllegalStateException("reference logits hold " + b.remaining() + " bytes, not 256 x 512 floats");
        }
        float[][] rows = new float[LOGIT_ROWS][VOCAB];
        for (float[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                row[i] = b.getFloat();
            }
        }
        return rows;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }

    private static long[] longs(int[] ints) {
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }
}
