package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** The shared stories260K checkpoint and its reference outputs (../shared/models/stories260K/README.md). */
final class Stories260K {
    private Stories260K() {}

    /** The model's directory, or an abort (skip) saying why; never a skip when CI is set. */
    static Path dir() {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("ARICA_SHARED");
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        candidates.add(Path.of("../../shared"));
        candidates.add(Path.of("/work/shared"));
        for (Path shared : candidates) {
            Path d = shared.resolve("models/stories260K");
            if (Files.isRegularFile(d.resolve("stories260K.bin")) && Files.isRegularFile(d.resolve("reference/greedy.jsonl"))) {
                return d.toAbsolutePath().normalize();
            }
        }
        String why = "stories260K not found (looked under " + candidates + " at models/stories260K/); download "
                + "karpathy/tinyllamas stories260K/stories260K.bin and tok512.bin with the reference outputs into "
                + "../shared/models/stories260K/ or set ARICA_SHARED";
        if (System.getenv("CI") != null) {
            fail(why + " — CI is set, so this test may not skip");
        }
        Assumptions.abort(why);
        throw new AssertionError("unreachable");
    }

    /** One line of reference/greedy.jsonl. */
    record Greedy(String prompt, long[] promptIds, long[] ids) {}

    static List<Greedy> greedy() throws IOException {
        List<Greedy> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir().resolve("reference/greedy.jsonl"))) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode j = Json.MAPPER.readTree(line);
            out.add(new Greedy(j.get("prompt").asText(), longs(j.get("prompt_ids")), longs(j.get("ids"))));
        }
        return out;
    }

    private static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }

    /** reference/logits_once_upon_a_time.f32: 256 rows of 512 little-endian floats. */
    static float[][] referenceLogits() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir().resolve("reference/logits_once_upon_a_time.f32")))
                .order(ByteOrder.LITTLE_ENDIAN);
        float[][] rows = new float[256][512];
        for (float[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                row[i] = b.getFloat();
            }
        }
        if (b.hasRemaining()) {
            throw new AssertionError("reference logits file is longer than 256 x 512 floats");
        }
        return rows;
    }
}
