package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.testing.TestModels;
import java.nio.file.Path;
import java.util.Map;

/** A GPTQ checkpoint's quantize_config.json, read with the bundled GPTQ model beside it and its weights unpacked. */
class GptqFuzzTest {

    private static final Path MODEL = TestModels.dir("tiny-falcon-gptq");

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("gptq", Map.of(
            "config.json", MODEL.resolve("config.json"), "model.safetensors", MODEL.resolve("model.safetensors")));

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void quantizeConfig(byte[] data) throws Exception {
        PROPERTY.check("quantize_config.json", data, dir -> {
            try (Checkpoint c = Checkpoint.open(dir)) {
                ReaderProperty.validate(c);
            }
        });
    }
}
