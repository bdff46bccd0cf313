package dev.arica.runtime;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** The real stories260K model under ../shared (see its README): located through ARICA_SHARED. */
public final class SharedModels {
    private SharedModels() {}

    /** The stories260K directory; aborts the test when absent, fails instead when CI is set. */
    public static Path stories260K() {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("ARICA_SHARED");
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        candidates.add(Path.of("../../shared"));
        candidates.add(Path.of("/work/shared"));
        for (Path shared : candidates) {
            Path dir = shared.resolve("models/stories260K");
            if (Files.isRegularFile(dir.resolve("stories260K.bin")) && Files.isRegularFile(dir.resolve("tok512.bin"))
                    && Files.isRegularFile(dir.resolve("reference/greedy.jsonl"))) {
                return dir.toAbsolutePath().normalize();
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
    public record Greedy(String prompt, int[] promptIds, int[] ids, String text) {}

    public static List<Greedy> greedyReference() throws IOException {
        Path file = stories260K().resolve("reference/greedy.jsonl");
        List<Greedy> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = Json.parse(file, line.getBytes(java.nio.charset.StandardCharsets.UTF_8), "reference line");
            out.add(new Greedy(n.get("prompt").textValue(), ints(n.get("prompt_ids")), ints(n.get("ids")), n.get("text").textValue()));
        }
        return out;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }
}
