package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.runtime.tokenizer.Llama2cBpeTokenizer;

/** llama2.c's tokenizer.bin, read and then used: a text encoded, every id decoded. */
class Llama2cTokenizerFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void tokenizer(byte[] data) throws Exception {
        PROPERTY.check("tokenizer.bin", data, dir -> TokenizerUse.check(Llama2cBpeTokenizer.read(dir.resolve("tokenizer.bin"))));
    }
}
