package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.model.ModelDescription;
import java.util.Map;

/** config.json read into each family's typed configuration (seeds: every bundled family's config). */
class ConfigFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("config", Map.of());

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void config(byte[] data) throws Exception {
        PROPERTY.check("config.json", data, dir -> {
            try (HfCheckpoint c = HfCheckpoint.open(dir)) {
                ModelDescription d = ModelDescription.of(c, "fuzzing");
                d.tensors();
                d.config();
            }
        });
    }
}
