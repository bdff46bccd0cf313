package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.tokenizer.AricateWordTokenizer;
import java.util.Map;

/** Aricate's word vocabulary (vocab.json), read with the bundled tokenizer_config.json and then used. */
class AricateVocabFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("aricate", Map.of(
            AricateWordTokenizer.CONFIG_FILE, TestModels.dir("tiny-aricate").resolve(AricateWordTokenizer.CONFIG_FILE)));

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void vocab(byte[] data) throws Exception {
        PROPERTY.check(AricateWordTokenizer.VOCAB_FILE, data,
                dir -> TokenizerUse.check(AricateWordTokenizer.read(dir.resolve(AricateWordTokenizer.VOCAB_FILE))));
    }
}
