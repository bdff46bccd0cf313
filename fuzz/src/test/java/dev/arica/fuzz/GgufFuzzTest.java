package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.gguf.GgufCheckpoint;

/** GGUF: header, metadata key-values, tensor infos, blocks (dequantized), the vocabulary as tokenizer.json. */
class GgufFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void gguf(byte[] data) throws Exception {
        PROPERTY.check("model.gguf", data, dir -> {
            try (GgufCheckpoint c = GgufCheckpoint.open(dir.resolve("model.gguf"))) {
                c.tokenizerProblem();
                c.typeSummary();
                ReaderProperty.validate(c);
            }
        });
    }
}
