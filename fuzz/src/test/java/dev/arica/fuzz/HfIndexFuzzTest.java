package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.hf.HfCheckpoint;
import java.util.Map;

/** The index of a sharded HF directory: weight_map, the shards it names (which must stay inside the directory). */
class HfIndexFuzzTest {

    static final String INDEX = "model.safetensors.index.json";

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("hf-index", Map.of());

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void index(byte[] data) throws Exception {
        PROPERTY.check(INDEX, data, dir -> {
            try (HfCheckpoint c = HfCheckpoint.open(dir)) {
                ReaderProperty.validate(c);
            }
        });
    }
}
