package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.gguf.GgufCheckpoint;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** GGUF: header, metadata key-values, tensor infos, blocks (dequantized), the vocabulary as tokenizer.json. */
class GgufFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "model.gguf";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void gguf(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, GgufFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "gguf", FILE, GgufFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (GgufCheckpoint c = GgufCheckpoint.open(dir.resolve(FILE))) {
            c.tokenizerProblem();
            c.typeSummary();
            ReaderProperty.validate(c);
        }
    }
}
