package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.runtime.tokenizer.HfTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** tokenizer.json of every model type (BPE, WordPiece, Unigram, WordLevel), read and then used. */
class HfTokenizerFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "tokenizer.json";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void tokenizer(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, HfTokenizerFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "tokenizer", FILE, HfTokenizerFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        TokenizerUse.check(HfTokenizer.read(dir.resolve(FILE)));
    }
}
