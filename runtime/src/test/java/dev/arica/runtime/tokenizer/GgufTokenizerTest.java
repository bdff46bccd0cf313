package dev.arica.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.testing.Stories260K;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenizer.json rebuilt from a GGUF file's sentencepiece vocabulary (stories260K as llama.cpp wrote it) against
 * the llama2.c tokenizer of the same model: the same ids for every reference prompt and story, and for text that
 * needs byte fallback, digits and odd spacing.
 */
class GgufTokenizerTest {

    @TempDir
    static Path tmp;

    static HfTokenizer gguf;
    static Llama2cBpeTokenizer llama2c;

    @BeforeAll
    static void load() throws Exception {
        try (Checkpoint c = Checkpoint.open(Stories260K.gguf("q8_0"))) {
            AuxFile json = c.auxFiles().stream().filter(a -> a.name().equals(Tokenizer.HF_FILE)).findFirst().orElseThrow();
            json.writeInto(tmp);
        }
        gguf = HfTokenizer.read(tmp.resolve(Tokenizer.HF_FILE));
        llama2c = Llama2cBpeTokenizer.read(Stories260K.tokenizer());
    }

    @Test
    void everyReferencePromptGivesTheLlama2cIds() throws Exception {
        for (Stories260K.Greedy g : Stories260K.greedy()) {
            assertArrayEquals(g.promptIds(), gguf.encode(g.prompt(), true), "prompt '" + g.prompt() + "'");
            assertArrayEquals(llama2c.encode(g.prompt(), true), gguf.encode(g.prompt(), true), g.prompt());
        }
        assertEquals(1, gguf.bosId());
    }

    @Test
    void storiesAndHardTextEncodeAsLlama2cDoes() throws Exception {
        List<String> texts = new ArrayList<>();
        for (Stories260K.Greedy g : Stories260K.greedy()) {
            texts.add(g.text());
        }
        texts.addAll(List.of("", " ", "  two  spaces", "Tim's 3 dogs, 42 cats; 1000 birds!", "naïve café — 日本語 🙂",
                "line one\nline two\n\n\ttab", "The end.", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "<s> is text here"));
        for (String t : texts) {
            assertArrayEquals(llama2c.encode(t, true), gguf.encode(t, true), "'" + t + "'");
            assertArrayEquals(llama2c.encode(t, false), gguf.encode(t, false), "'" + t + "' without BOS");
        }
    }

    @Test
    void referenceIdsDecodeAsLlama2cDecodesThem() throws Exception {
        for (Stories260K.Greedy g : Stories260K.greedy()) {
            assertEquals(llama2c.decode(g.ids()), gguf.decode(g.ids()), "ids of '" + g.prompt() + "'");
            assertEquals(g.prompt(), gguf.decode(g.promptIds()), "the prompt ids decode to the prompt");
        }
    }
}
