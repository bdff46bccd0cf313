package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.runtime.tokenizer.HfTokenizer;

/** tokenizer.json of every model type (BPE, WordPiece, Unigram, WordLevel), read and then used. */
class HfTokenizerFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void tokenizer(byte[] data) throws Exception {
        PROPERTY.check("tokenizer.json", data, dir -> TokenizerUse.check(HfTokenizer.read(dir.resolve("tokenizer.json"))));
    }
}
