package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A GPTQ checkpoint's quantize_config.json, read with the bundled GPTQ model beside it and its weights unpacked. */
class GptqFuzzTest {

    private static final Path MODEL = TestModels.dir("tiny-falcon-gptq");

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("gptq", Map.of(
            "config.json", MODEL.resolve("config.json"), "model.safetensors", MODEL.resolve("model.safetensors")));

    private static final String FILE = "quantize_config.json";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void quantizeConfig(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, GptqFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "quantizeConfig", FILE, GptqFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (Checkpoint c = Checkpoint.open(dir)) {
            ReaderProperty.validate(c);
        }
    }
}
