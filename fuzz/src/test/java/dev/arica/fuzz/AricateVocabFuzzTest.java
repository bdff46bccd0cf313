package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.tokenizer.AricateWordTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Aricate's word vocabulary (vocab.json), read with the bundled tokenizer_config.json and then used. */
class AricateVocabFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("aricate", Map.of(
            AricateWordTokenizer.CONFIG_FILE, TestModels.dir("tiny-aricate").resolve(AricateWordTokenizer.CONFIG_FILE)));

    private static final String FILE = AricateWordTokenizer.VOCAB_FILE;

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void vocab(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, AricateVocabFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "vocab", FILE, AricateVocabFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        TokenizerUse.check(AricateWordTokenizer.read(dir.resolve(FILE)));
    }
}
