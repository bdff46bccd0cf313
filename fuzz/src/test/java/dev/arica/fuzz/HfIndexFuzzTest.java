package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.hf.HfCheckpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The index of a sharded HF directory: weight_map, the shards it names (which must stay inside the directory). */
class HfIndexFuzzTest {

    static final String INDEX = "model.safetensors.index.json";

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("hf-index", Map.of());

    private static final String FILE = INDEX;

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void index(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, HfIndexFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "index", FILE, HfIndexFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (HfCheckpoint c = HfCheckpoint.open(dir)) {
            ReaderProperty.validate(c);
        }
    }
}
