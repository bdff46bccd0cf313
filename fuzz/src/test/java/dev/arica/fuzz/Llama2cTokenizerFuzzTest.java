package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.runtime.tokenizer.Llama2cBpeTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** llama2.c's tokenizer.bin, read and then used: a text encoded, every id decoded. */
class Llama2cTokenizerFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "tokenizer.bin";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void tokenizer(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, Llama2cTokenizerFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "tokenizer", FILE, Llama2cTokenizerFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        TokenizerUse.check(Llama2cBpeTokenizer.read(dir.resolve(FILE)));
    }
}
