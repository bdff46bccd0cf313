package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A llama2.c checkpoint: its 28-byte header, the weights it implies, the tokenizer looked up beside it. */
class Llama2cFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("llama2c", Map.of());

    private static final String FILE = "model.bin";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void checkpoint(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, Llama2cFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "checkpoint", FILE, Llama2cFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(dir.resolve(FILE), null)) {
            ReaderProperty.validate(c);
        }
    }
}
