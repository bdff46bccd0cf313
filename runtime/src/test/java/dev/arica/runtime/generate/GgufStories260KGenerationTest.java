package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.tokenizer.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * llama.cpp's f32 GGUF of stories260K, read by arica (HF names, Q/K rows back in HF's order, config from the
 * metadata) and run by {@link LlamaReferenceDecoder}, against the reference C implementation's greedy ids; the prompts
 * are encoded by the tokenizer.json rebuilt from the file's vocabulary.
 */
class GgufStories260KGenerationTest {

    @TempDir
    Path tmp;

    @Test
    void theF32GgufReproducesTheGreedyReferenceWithItsOwnTokenizer() throws Exception {
        try (Checkpoint c = Checkpoint.open(Stories260K.gguf("f32"));
                LlamaReferenceDecoder d = new LlamaReferenceDecoder(c)) {
            Path json = tmp.resolve("tokenizer.json");
            Files.write(json, c.auxFiles().getFirst().bytes());
            HfTokenizer tok = HfTokenizer.read(json);
            Generator g = new Generator(d, tok);
            for (Stories260K.Greedy ref : Stories260K.greedy()) {
                int[] prompt = tok.encode(ref.prompt(), true);
                assertArrayEquals(ref.promptIds(), prompt, "prompt ids of '" + ref.prompt() + "'");
                // As many new ids as the reference has: the GGUF's EOS is 2, while these stories end with BOS (1).
                d.reset();
                Generator.Result r = g.generate(prompt, new Generator.Settings(ref.ids().length - prompt.length,
                        new int[0]), Sampler.greedy(), s -> { });
                assertArrayEquals(ref.ids(), r.ids(), "ids after '" + ref.prompt() + "'");
            }
            assertTrue(Stories260K.greedy().size() >= 4);
        }
    }
}
