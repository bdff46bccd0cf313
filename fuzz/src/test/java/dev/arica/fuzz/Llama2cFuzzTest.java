package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import java.util.Map;

/** A llama2.c checkpoint: its 28-byte header, the weights it implies, the tokenizer looked up beside it. */
class Llama2cFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("llama2c", Map.of());

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void checkpoint(byte[] data) throws Exception {
        PROPERTY.check("model.bin", data, dir -> {
            try (Llama2cCheckpoint c = Llama2cCheckpoint.open(dir.resolve("model.bin"), null)) {
                ReaderProperty.validate(c);
            }
        });
    }
}
