package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.tokenizer.Llama2cBpeTokenizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The generation loop on the real stories260K model (imported to HF layout by the formats module, run
 * by {@link LlamaReferenceDecoder}) against the reference C implementation's outputs.
 */
class Stories260KGenerationTest {

    @Test
    void referenceDecoderMatchesTheReferenceLogits() throws Exception {
        Path dir = Stories260K.dir();
        Stories260K.Greedy first = Stories260K.greedy().getFirst();
        ByteBuffer ref = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("reference/logits_once_upon_a_time.f32")))
                .order(ByteOrder.LITTLE_ENDIAN);
        try (Checkpoint c = Checkpoint.open(dir.resolve("stories260K.bin"));
             LlamaReferenceDecoder d = new LlamaReferenceDecoder(c)) {
            double worst = 0;
            for (int p = 0; p < 256; p++) {
                float[] logits = d.forward(new long[] {first.ids()[p]}, new long[] {p});
                for (int v = 0; v < 512; v++) {
                    worst = Math.max(worst, Math.abs(logits[v] - ref.getFloat((p * 512 + v) * 4)));
                }
            }
            assertTrue(worst < 1e-4, "largest logit difference " + worst);
        }
    }

    @Test
    void greedyGenerationReproducesTheReference() throws Exception {
        Path dir = Stories260K.dir();
        Llama2cBpeTokenizer tok = Llama2cBpeTokenizer.read(dir.resolve("tok512.bin"));
        try (Checkpoint c = Checkpoint.open(dir.resolve("stories260K.bin"));
             LlamaReferenceDecoder d = new LlamaReferenceDecoder(c)) {
            Generator g = new Generator(d, tok);
            for (Stories260K.Greedy ref : Stories260K.greedy()) {
                int[] prompt = tok.encode(ref.prompt(), true);
                StringBuilder text = new StringBuilder();
                // The reference ran 256 positions: 257 ids at most, the prompt's included.
                Generator.Result r = g.generate(prompt, new Generator.Settings(257 - prompt.length, tok.eosIds()),
                        Sampler.greedy(), text::append);
                assertArrayEquals(ref.ids(), r.ids(), "ids after '" + ref.prompt() + "'");
                assertEquals(ref.text(), ref.prompt() + text, "text after '" + ref.prompt() + "'");
                boolean early = ref.ids().length < 257;
                assertEquals(early ? Generator.Stop.STOP_TOKEN : Generator.Stop.MAX_TOKENS, r.stop());
                assertEquals(early ? 1 : -1, r.stopToken(), "stories end by starting the next one with BOS");
            }
        }
    }
}
