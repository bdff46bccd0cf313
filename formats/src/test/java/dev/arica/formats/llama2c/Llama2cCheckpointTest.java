package dev.arica.formats.llama2c;

import static dev.arica.formats.TestSupport.assertFormatError;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Synthetic llama2.c checkpoints: layout, classifier handling, and every header/tokenizer refusal. */
class Llama2cCheckpointTest {

    @TempDir
    Path dir;

    // dim 32, hidden 24, 2 layers, 4 heads (head size 8, so the rotary permutation is not its own inverse),
    // 2 kv heads, vocab 6, seq_len 5
    private static final int DIM = 32, HID = 24, L = 2, H = 4, KV = 2, V = 6, SEQ = 5;

    private Path model(int vocab, long seed) throws Exception {
        return write(dir, "model.bin", Llama2cFixtures.checkpoint(DIM, HID, L, H, KV, vocab, SEQ, seed));
    }

    private static byte[] rows(byte[] file, long floatOffset, int rows, int cols) {
        int from = (int) (28 + 4 * floatOffset);
        return Arrays.copyOfRange(file, from, from + 4 * rows * cols);
    }

    @Test
    void separateClassifierIsImportedAsLmHead() throws Exception {
        Path m = model(-V, 1);
        byte[] file = Files.readAllBytes(m);
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(m, null)) {
            assertFalse(c.header().sharedClassifier());
            assertEquals(V, c.header().vocab());
            TensorInfo last = c.tensors().getLast();
            assertEquals(new TensorInfo("lm_head.weight", dev.arica.formats.DType.F32, new long[] {V, DIM}), last);
            long n = Llama2cFixtures.floats(DIM, HID, L, H, KV, -V, SEQ);
            assertArrayEquals(rows(file, n - (long) V * DIM, V, DIM), bytesOf(c.tensor("lm_head.weight")));
            assertArrayEquals(rows(file, 0, V, DIM), bytesOf(c.tensor("model.embed_tokens.weight")));
            ObjectNode config = c.config().orElseThrow();
            assertFalse(config.get("tie_word_embeddings").booleanValue());
            assertEquals(V, config.get("vocab_size").intValue());
            // No tokenizer beside the model: only the generation config travels.
            assertEquals(List.of("generation_config.json"), c.auxFiles().stream().map(AuxFile::name).toList());
        }
    }

    /** Written out independently of RotaryPermutation: HF row (h, t * half + i) is llama2.c row (h, 2i + t). */
    private static int[] hfRowSources(int heads, int headSize) {
        int half = headSize / 2;
        int[] map = new int[heads * headSize];
        for (int r = 0; r < map.length; r++) {
            int h = r / headSize, within = r % headSize, t = within / half, i = within % half;
            map[r] = h * headSize + 2 * i + t;
        }
        return map;
    }

    @Test
    void everyTensorIsAViewOfTheRightBytes() throws Exception {
        Path m = model(V, 2);
        byte[] file = Files.readAllBytes(m);
        int kvDim = DIM / H * KV;
        long off = 0;
        long embed = off; off += (long) V * DIM;
        long rmsAtt = off; off += (long) L * DIM;
        long wq = off; off += (long) L * DIM * DIM;
        long wk = off; off += (long) L * kvDim * DIM;
        long wv = off; off += (long) L * kvDim * DIM;
        long wo = off; off += (long) L * DIM * DIM;
        long rmsFfn = off; off += (long) L * DIM;
        long w1 = off; off += (long) L * HID * DIM;
        long w2 = off; off += (long) L * DIM * HID;
        long w3 = off; off += (long) L * HID * DIM;
        long rmsFinal = off;
        int[] qMap = hfRowSources(H, DIM / H);
        int[] kMap = hfRowSources(KV, DIM / H);
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(m, null)) {
            assertArrayEquals(rows(file, embed, V, DIM), bytesOf(c.tensor("model.embed_tokens.weight")));
            assertArrayEquals(rows(file, rmsFinal, 1, DIM), bytesOf(c.tensor("model.norm.weight")));
            for (int l = 0; l < L; l++) {
                String p = "model.layers." + l + ".";
                assertArrayEquals(rows(file, rmsAtt + (long) l * DIM, 1, DIM), bytesOf(c.tensor(p + "input_layernorm.weight")));
                assertArrayEquals(rows(file, rmsFfn + (long) l * DIM, 1, DIM),
                        bytesOf(c.tensor(p + "post_attention_layernorm.weight")));
                assertArrayEquals(rows(file, wv + (long) l * kvDim * DIM, kvDim, DIM), bytesOf(c.tensor(p + "self_attn.v_proj.weight")));
                assertArrayEquals(rows(file, wo + (long) l * DIM * DIM, DIM, DIM), bytesOf(c.tensor(p + "self_attn.o_proj.weight")));
                assertArrayEquals(rows(file, w1 + (long) l * HID * DIM, HID, DIM), bytesOf(c.tensor(p + "mlp.gate_proj.weight")));
                assertArrayEquals(rows(file, w3 + (long) l * HID * DIM, HID, DIM), bytesOf(c.tensor(p + "mlp.up_proj.weight")));
                assertArrayEquals(rows(file, w2 + (long) l * DIM * HID, DIM, HID), bytesOf(c.tensor(p + "mlp.down_proj.weight")));
                byte[] q = bytesOf(c.tensor(p + "self_attn.q_proj.weight"));
                byte[] k = bytesOf(c.tensor(p + "self_attn.k_proj.weight"));
                for (int r = 0; r < DIM; r++) {
                    assertArrayEquals(rows(file, wq + (long) l * DIM * DIM + (long) qMap[r] * DIM, 1, DIM),
                            Arrays.copyOfRange(q, 4 * r * DIM, 4 * (r + 1) * DIM), p + "q row " + r);
                }
                for (int r = 0; r < kvDim; r++) {
                    assertArrayEquals(rows(file, wk + (long) l * kvDim * DIM + (long) kMap[r] * DIM, 1, DIM),
                            Arrays.copyOfRange(k, 4 * r * DIM, 4 * (r + 1) * DIM), p + "k row " + r);
                }
            }
        }
    }

    @Test
    void tokenizerBesideTheModelIsFoundAndCheckpointOpenDispatches() throws Exception {
        Path m = model(V, 3);
        byte[] tok = Llama2cFixtures.tokenizer(V);
        write(dir, "tok" + V + ".bin", tok);
        assertTrue(Llama2cCheckpoint.looksLikeLlama2c(m));
        try (Checkpoint c = Checkpoint.open(m)) {
            assertEquals("llama2c", c.format());
            AuxFile t = c.auxFiles().stream().filter(a -> a.name().equals(Llama2cCheckpoint.TOKENIZER_NAME))
                    .findFirst().orElseThrow();
            assertEquals(dir.resolve("tok" + V + ".bin").toAbsolutePath(), t.source().toAbsolutePath());
        }
        Llama2cTokenizer t = Llama2cTokenizer.read(dir.resolve("tok" + V + ".bin"), V);
        assertEquals(V, t.vocabSize());
        assertEquals(8, t.maxTokenLength());
        assertArrayEquals("</s>".getBytes(), t.piece(2));
        assertEquals(-5f, t.score(5));
    }

    @Test
    void tokenizerWithoutAKnownVocabSizeIsReadToTheEndOfTheFile() throws Exception {
        byte[] tok = Llama2cFixtures.tokenizer(V);
        Path f = write(dir, "tok.bin", tok);
        Llama2cTokenizer t = Llama2cTokenizer.read(f);
        assertEquals(V, t.vocabSize());
        assertArrayEquals("</s>".getBytes(), t.piece(2));
        assertEquals(-5f, t.score(5));

        Path cut = write(dir, "cut.bin", Arrays.copyOf(tok, tok.length - 1));
        assertFormatError(cut, null, () -> Llama2cTokenizer.read(cut), "token " + (V - 1), "beyond the end of the file");
        Path partial = write(dir, "partial.bin", Arrays.copyOf(tok, tok.length + 3));
        assertFormatError(partial, null, () -> Llama2cTokenizer.read(partial), "ends inside token " + V, "3 bytes left");
        Path empty = write(dir, "empty.bin", Arrays.copyOf(tok, 4));
        assertFormatError(empty, null, () -> Llama2cTokenizer.read(empty), "has no tokens");
        // found by fuzzing: one token read, then encoding with BOS (id 1) ran past the vocabulary
        Path one = write(dir, "one.bin", Llama2cFixtures.tokenizer(1));
        assertFormatError(one, null, () -> Llama2cTokenizer.read(one), "has 1 tokens, fewer than the 3");
        Path two = write(dir, "two.bin", Llama2cFixtures.tokenizer(2));
        assertFormatError(two, null, () -> Llama2cTokenizer.read(two, 2), "has 2 tokens");
    }

    // ---- header refusals -------------------------------------------------------------------------

    @Test
    void truncatedFileIsRefused() throws Exception {
        byte[] full = Llama2cFixtures.checkpoint(DIM, HID, L, H, KV, V, SEQ, 4);
        Path m = write(dir, "model.bin", Arrays.copyOf(full, full.length - 4));
        assertFalse(Llama2cCheckpoint.looksLikeLlama2c(m));
        assertFormatError(m, null, () -> Llama2cCheckpoint.open(m, null),
                "file is " + (full.length - 4) + " bytes", "implies " + full.length,
                "dim=32 hidden_dim=24 n_layers=2 n_heads=4 n_kv_heads=2 vocab_size=6 seq_len=5");
    }

    @Test
    void fileWithExtraBytesIsRefused() throws Exception {
        byte[] full = Llama2cFixtures.checkpoint(DIM, HID, L, H, KV, V, SEQ, 4);
        Path m = write(dir, "model.bin", Arrays.copyOf(full, full.length + 1));
        assertFormatError(m, null, () -> Llama2cCheckpoint.open(m, null),
                "file is " + (full.length + 1) + " bytes", "implies " + full.length);
    }

    @Test
    void separateClassifierMissingIsRefused() throws Exception {
        // Negative vocab promises a classifier at the end; a shared-classifier body lacks it.
        byte[] shared = Llama2cFixtures.checkpoint(DIM, HID, L, H, KV, V, SEQ, 4);
        byte[] lying = shared.clone();
        System.arraycopy(Llama2cFixtures.header(DIM, HID, L, H, KV, -V, SEQ), 0, lying, 0, 28);
        Path m = write(dir, "model.bin", lying);
        assertFormatError(m, null, () -> Llama2cCheckpoint.open(m, null), "vocab_size=-6",
                "implies " + (shared.length + 4 * V * DIM));
    }

    @Test
    void fileShorterThanTheHeaderIsRefused() throws Exception {
        Path m = write(dir, "model.bin", Arrays.copyOf(Llama2cFixtures.header(DIM, HID, L, H, KV, V, SEQ), 20));
        assertFalse(Llama2cCheckpoint.looksLikeLlama2c(m));
        assertFormatError(m, null, () -> Llama2cCheckpoint.open(m, null), "too short for the 28-byte llama2.c header");
    }

    private void assertHeaderRefused(byte[] header, String... fragments) throws Exception {
        byte[] file = Arrays.copyOf(header, 28 + 4096);
        Path m = write(dir, "bad.bin", file);
        assertFalse(Llama2cCheckpoint.looksLikeLlama2c(m));
        assertFormatError(m, null, () -> Llama2cCheckpoint.open(m, null), fragments);
    }

    @Test
    void zeroDimIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(0, HID, L, H, KV, V, SEQ), "non-positive field", "dim=0");
    }

    @Test
    void negativeLayersIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(DIM, HID, -2, H, KV, V, SEQ), "non-positive field", "n_layers=-2");
    }

    @Test
    void zeroKvHeadsIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(DIM, HID, L, H, 0, V, SEQ), "non-positive field", "n_kv_heads=0");
    }

    @Test
    void zeroVocabIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(DIM, HID, L, H, KV, 0, SEQ), "non-positive field", "vocab_size=0");
    }

    @Test
    void minIntVocabIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(DIM, HID, L, H, KV, Integer.MIN_VALUE, SEQ), "non-positive field");
    }

    @Test
    void zeroSeqLenIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(DIM, HID, L, H, KV, V, 0), "non-positive field", "seq_len=0");
    }

    @Test
    void dimNotDivisibleByHeadsIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(18, HID, L, 4, 2, V, SEQ), "inconsistent",
                "dim must be a multiple of n_heads", "dim=18", "n_heads=4");
    }

    @Test
    void headsNotDivisibleByKvHeadsIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(DIM, HID, L, 4, 3, V, SEQ), "inconsistent", "n_kv_heads=3");
    }

    @Test
    void oddHeadSizeIsRefused() throws Exception {
        assertHeaderRefused(Llama2cFixtures.header(12, HID, L, 4, 2, V, SEQ), "inconsistent", "head size even");
    }

    @Test
    void hugeFieldsAreRefusedWithoutOverflow() throws Exception {
        int big = 1 << 30;
        byte[] header = Llama2cFixtures.header(big, big, big, 1 << 28, 1 << 28, big, big);
        Path m = write(dir, "huge.bin", Arrays.copyOf(header, 28 + 64));
        var e = assertFormatError(m, null, () -> Llama2cCheckpoint.open(m, null), "file is 92 bytes");
        assertFalse(e.getMessage().contains("implies -"), "a negative implied size means an overflow: " + e.getMessage());
    }

    // ---- tokenizer refusals ----------------------------------------------------------------------

    @Test
    void truncatedTokenizerIsRefused() throws Exception {
        Path m = model(V, 5);
        byte[] tok = Llama2cFixtures.tokenizer(V);
        // Cut inside the last piece's bytes ("p5" loses its last byte).
        Path t = write(dir, "cut.bin", Arrays.copyOf(tok, tok.length - 1));
        assertFormatError(t, null, () -> Llama2cCheckpoint.open(m, t), "token 5 has length 2", "beyond the end of the file");
    }

    @Test
    void tokenizerEndingBeforeAllTokensIsRefused() throws Exception {
        Path m = model(V, 5);
        byte[] tok = Llama2cFixtures.tokenizer(V);
        Path t = write(dir, "short.bin", Arrays.copyOf(tok, tok.length - 10)); // drops the whole last token
        assertFormatError(t, null, () -> Llama2cCheckpoint.open(m, t), "tokenizer ends at token 5 of 6");
    }

    @Test
    void tokenizerWithTrailingBytesIsRefused() throws Exception {
        Path m = model(V, 5);
        byte[] tok = Llama2cFixtures.tokenizer(V);
        Path t = write(dir, "long.bin", Arrays.copyOf(tok, tok.length + 3));
        assertFormatError(t, null, () -> Llama2cCheckpoint.open(m, t), "3 bytes left after the 6 tokens");
    }

    @Test
    void tokenizerForALargerVocabularyIsRefused() throws Exception {
        Path m = model(V, 5);
        Path t = write(dir, "tokenizer.bin", Llama2cFixtures.tokenizer(V + 1));
        assertFormatError(t, null, () -> Llama2cCheckpoint.open(m, null), "bytes left after the 6 tokens");
    }

    @Test
    void tokenizerWithNonPositiveMaxLengthIsRefused() throws Exception {
        Path m = model(V, 5);
        byte[] tok = Llama2cFixtures.tokenizer(V);
        tok[0] = 0;
        Path t = write(dir, "zero.bin", tok);
        assertFormatError(t, null, () -> Llama2cCheckpoint.open(m, t), "max_token_length is 0");
    }

    @Test
    void tokenizerTooShortForItsHeaderIsRefused() throws Exception {
        Path m = model(V, 5);
        Path t = write(dir, "tiny.bin", new byte[] {8, 0});
        assertFormatError(t, null, () -> Llama2cCheckpoint.open(m, t), "too short for its 4-byte header");
    }

    /**
     * dim 128 and 640 put 80 00 and 80 02 first, the byte of pickle's PROTO and (for 640) protocol 2: still llama2.c,
     * since only PyTorch's magic number or a zip archive marks a PyTorch file.
     */
    @Test
    void aHeaderThatStartsLikeAPickleIsStillLlama2c() throws Exception {
        for (int dim : new int[] {128, 640}) {
            Path f = write(dir, "dim" + dim + ".bin", Llama2cFixtures.checkpoint(dim, 8, 1, 2, 2, 4, 2, dim));
            try (Checkpoint c = Checkpoint.open(f)) {
                assertEquals("llama2c", c.format());
                assertEquals(dim, c.config().orElseThrow().get("hidden_size").asInt());
            }
        }
    }
}
