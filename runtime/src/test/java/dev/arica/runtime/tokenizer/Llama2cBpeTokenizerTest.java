package dev.arica.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.FormatException;
import dev.arica.formats.testing.Stories260K;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The llama2.c tokenizer against tok512.bin and the reference outputs of the bundled stories260K. */
class Llama2cBpeTokenizerTest {

    static Llama2cBpeTokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        tok = Llama2cBpeTokenizer.read(Stories260K.tokenizer());
    }

    /**
     * The reference prints a piece with run.c's safe_printf: a one-byte piece only when it is printable
     * or whitespace (C locale), every longer piece as it is.
     */
    static byte[] referencePrintable(byte[] piece) {
        if (piece.length == 1) {
            int b = piece[0] & 0xFF;
            boolean print = b >= 0x20 && b <= 0x7E;
            boolean space = b == ' ' || (b >= 0x09 && b <= 0x0D);
            return print || space ? piece : new byte[0];
        }
        return piece;
    }

    /** What the reference prints for ids[from..]: each token's piece given the token before it. */
    static String referenceText(int[] ids, int from) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = from; i < ids.length; i++) {
            out.writeBytes(referencePrintable(tok.decodeBytes(ids[i - 1], ids[i])));
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void everyReferencePromptEncodesToItsPromptIds() throws Exception {
        List<Stories260K.Greedy> lines = Stories260K.greedy();
        assertEquals(4, lines.size());
        for (Stories260K.Greedy g : lines) {
            assertArrayEquals(g.promptIds(), tok.encode(g.prompt(), true), "prompt '" + g.prompt() + "'");
            assertArrayEquals(g.promptIds(), Arrays.copyOf(g.ids(), g.promptIds().length), "ids start with the prompt");
        }
    }

    @Test
    void referenceIdsDecodeToTheReferenceText() throws Exception {
        for (Stories260K.Greedy g : Stories260K.greedy()) {
            int p = g.promptIds().length;
            // run.c prints every token after BOS, the prompt's included.
            assertEquals(g.text(), referenceText(g.ids(), 1), "prompt '" + g.prompt() + "'");
            assertEquals(g.prompt(), referenceText(Arrays.copyOf(g.ids(), p), 1), "the prompt ids decode to the prompt");
            String continuation = referenceText(g.ids(), p);
            assertEquals(g.text(), g.prompt() + continuation, "continuation after '" + g.prompt() + "'");
            assertTrue(continuation.length() > 100, "a real continuation: " + continuation.length() + " chars");
            // The same continuation streamed, starting after the last prompt token: every piece here is printable.
            TokenTextStream stream = new TokenTextStream(tok, g.ids()[p - 1]);
            StringBuilder streamed = new StringBuilder();
            for (int i = p; i < g.ids().length; i++) {
                streamed.append(stream.push(g.ids()[i]));
            }
            assertEquals(continuation, streamed.append(stream.finish()).toString());
        }
    }

    @Test
    void emptyText() {
        assertArrayEquals(new int[] {1}, tok.encode("", true));
        assertArrayEquals(new int[0], tok.encode("", false), "no dummy prefix for empty text");
        assertEquals("", tok.decode(new int[0]));
        assertEquals("", tok.decode(new int[] {1}), "BOS prints nothing");
    }

    @Test
    void mergesFollowScoresNotPositions() {
        // "the": dummy prefix ' '(410), 't'(413), 'h'(415), 'e'(411). Candidate pairs: ' t'=259 (score -0),
        // 'th' (no piece), 'he'=260 (-1): ' t' first. Then ' th'=308 (-49) and 'he' (-1): 'he' wins although
        // it is further right. Then ' t'+'he' = ' the'=265 (-6).
        assertArrayEquals(new int[] {265}, tok.encode("the", false));
        assertArrayEquals(new int[] {1, 265}, tok.encode("the", true));
        assertEquals("the", tok.decode(new int[] {1, 265}), "the leading space goes after BOS");
        assertEquals(" the", tok.decode(new int[] {265}), "and stays without BOS");
    }

    @Test
    void unicodeCodePointWithAPiece() {
        // "café": ' '(410) 'c'(429) 'a'(412) 'f'(431) 'é'(485, a two-byte piece). Only ' c'=280 is a piece
        // among the pairs, then ' ca', 'af', 'fé' are none.
        assertArrayEquals(new int[] {1, 280, 412, 431, 485}, tok.encode("café", true));
        assertEquals("café", tok.decode(new int[] {1, 280, 412, 431, 485}));
        // ’ (U+2019, three bytes) is piece 468.
        assertArrayEquals(new int[] {410, 468}, tok.encode("’", false));
    }

    @Test
    void byteFallbackForCodePointsWithoutAPiece() {
        // 'ü' = C3 BC has no piece: byte tokens 0xC3+3=198, 0xBC+3=191; nothing merges with them.
        assertArrayEquals(new int[] {1, 410, 198, 191}, tok.encode("ü", true));
        // U+1F642 = F0 9F 99 82 -> 243, 162, 156, 133.
        assertArrayEquals(new int[] {410, 243, 162, 156, 133}, tok.encode("🙂", false));
        assertEquals("ü", tok.decode(new int[] {1, 410, 198, 191}));
        assertEquals(" 🙂", tok.decode(new int[] {410, 243, 162, 156, 133}));
        // Byte pieces decode to their byte: <0x0A> (13) is a newline.
        assertArrayEquals(new byte[] {'\n'}, tok.decodeBytes(400, 13));
        // Streamed, the first bytes of a character wait for the rest.
        TokenTextStream s = new TokenTextStream(tok);
        assertEquals("", s.push(243));
        assertEquals("", s.push(162));
        assertEquals("", s.push(156));
        assertEquals("🙂", s.push(133));
        assertEquals("", s.finish());
        // A character cut short becomes U+FFFD at the end.
        TokenTextStream cut = new TokenTextStream(tok);
        assertEquals("", cut.push(243));
        assertEquals("\uFFFD", cut.finish());
    }

    @Test
    void specialIdsAndVocabulary() throws Exception {
        assertEquals(512, tok.vocabSize());
        assertEquals(1, tok.bosId());
        assertArrayEquals(new int[] {2, 1}, tok.eosIds(), "llama2.c stories end with BOS");
        assertArrayEquals("<0x00>".getBytes(StandardCharsets.US_ASCII), tok.tokenBytes(3));
        assertEquals(-6f, tok.score(265));
        assertTrue(tok.sameVocabulary(Llama2cBpeTokenizer.read(Stories260K.tokenizer())));
        assertThrows(IllegalArgumentException.class, () -> tok.decodeBytes(1, 512));
        assertThrows(IllegalArgumentException.class, () -> tok.decodeBytes(1, -1));
    }

    @Test
    void openFindsTheTokenizerOfAModelDirectory(@TempDir Path dir) throws Exception {
        Files.copy(Stories260K.tokenizer(), dir.resolve("tokenizer.llama2c.bin"));
        Tokenizer t = Tokenizer.open(dir);
        assertTrue(t instanceof Llama2cBpeTokenizer);
        assertTrue(t.sameVocabulary(tok));
        Path empty = Files.createDirectory(dir.resolve("empty"));
        FormatException e = assertThrows(FormatException.class, () -> Tokenizer.open(empty));
        assertEquals(empty + ": has no tokenizer (looked for tokenizer.json, tokenizer.llama2c.bin, vocab.json with tokenizer_config.json)", e.getMessage());
    }
}
