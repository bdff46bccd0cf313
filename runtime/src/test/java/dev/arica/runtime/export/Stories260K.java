package dev.arica.runtime.export;

import dev.arica.runtime.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** The shared stories260K checkpoint and its reference outputs (../shared/models/stories260K/README.md). */
final class Stories260K {
    private Stories260K() {}

    /** The model's directory, or an abort (skip) saying why; never a skip when CI is set. */
    static Path dir() {
        return SharedModels.stories260K();
    }

    /** One line of reference/greedy.jsonl, ids as the ONNX graph takes them. */
    record Greedy(String prompt, long[] promptIds, long[] ids) {}

    static List<Greedy> greedy() throws IOException {
        return SharedModels.greedyReference().stream().map(g -> new Greedy(g.prompt(),
                Arrays.stream(g.promptIds()).asLongStream().toArray(), Arrays.stream(g.ids()).asLongStream().toArray()))
                .toList();
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
