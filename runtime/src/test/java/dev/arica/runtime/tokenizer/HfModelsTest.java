package dev.arica.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WordPiece, Unigram and WordLevel models, post-processors and decoding options, each expected result
 * worked out by hand from the published algorithm in the comment above it. Ids are looked up by token in
 * the file under test, so each check is about which tokens the algorithm picks.
 */
class HfModelsTest {

    @TempDir
    Path dir;

    static HfTokenizer miniLm() throws Exception {
        return HfTokenizer.read(TestModels.dir("tokenizers").resolve("all-minilm-l6-v2/tokenizer.json"));
    }

    static HfTokenizer unigram() throws Exception {
        return HfTokenizer.read(TestModels.dir("tokenizers").resolve("unigram-small/tokenizer.json"));
    }

    static int[] ids(HfTokenizer t, String... tokens) {
        return Arrays.stream(tokens).mapToInt(s -> {
            int id = t.id(s);
            assertTrue(id >= 0, () -> "'" + s + "' is not in the vocabulary");
            return id;
        }).toArray();
    }

    // ---- WordPiece (all-MiniLM-L6-v2: BertNormalizer lowercase, BertPreTokenizer, [CLS] $A [SEP]) -------------

    @Test
    void wordPieceLowercasesSplitsPunctuationAndAddsClsSep() throws Exception {
        HfTokenizer t = miniLm();
        // Lowercased, cut at spaces and around each punctuation mark: hello , world ! - all whole entries.
        assertArrayEquals(ids(t, "[CLS]", "hello", ",", "world", "!", "[SEP]"), t.encode("Hello, World!", null, true).ids());
        assertArrayEquals(ids(t, "hello", ",", "world", "!"), t.encode("Hello, World!", null, false).ids());
        assertEquals(101, t.bosId(), "[CLS] leads the template");
        // encode(text, addBos) keeps its meaning: the leading special token only.
        assertArrayEquals(ids(t, "[CLS]", "hello"), t.encode("hello", true));
    }

    @Test
    void wordPieceLongestMatchFirstWithContinuations() throws Exception {
        HfTokenizer t = miniLm();
        assertEquals(-1, t.id("unaffable"));
        assertEquals(-1, t.id("unaf"));
        // Longest prefix in the vocabulary: "una" ("unaf".. are not); then the longest "##" entry from "f":
        // "##ffa" ("##ffab" is not), then "##ble".
        assertEquals(-1, t.id("##ffab"));
        assertArrayEquals(ids(t, "una", "##ffa", "##ble"), t.encode("unaffable", false));
        assertEquals("unaffable", t.decode(ids(t, "una", "##ffa", "##ble")), "continuations join without a space");
    }

    @Test
    void wordPieceAccentsChineseCharactersAndUnknownWords() throws Exception {
        HfTokenizer t = miniLm();
        // Accents stripped with the lowercasing: "Café" -> "cafe".
        assertArrayEquals(ids(t, "cafe"), t.encode("Café", false));
        // Each CJK ideograph gets spaces around it, so it is a word of its own.
        assertArrayEquals(ids(t, "中", "文"), t.encode("中文", false));
        // More than max_input_chars_per_word (100) characters: the whole word is [UNK].
        assertArrayEquals(ids(t, "[UNK]"), t.encode("a".repeat(101), false));
        assertTrue(t.encode("a".repeat(100), false).length > 1, "100 characters are still split into pieces");
        // ☃ (U+2603) is a symbol, not punctuation: "hello☃" is one word; after "hello" no "##" piece starts
        // with ☃, so the whole word is [UNK].
        assertEquals(-1, t.id("##☃"));
        assertArrayEquals(ids(t, "[UNK]"), t.encode("hello☃", false));
    }

    @Test
    void wordPiecePairsHaveTypeIds() throws Exception {
        HfTokenizer t = miniLm();
        // Template pair: [CLS] $A [SEP] $B:1 [SEP]:1.
        Encoding e = t.encode("hello", "world", true);
        assertArrayEquals(ids(t, "[CLS]", "hello", "[SEP]", "world", "[SEP]"), e.ids());
        assertArrayEquals(new int[] {0, 0, 0, 1, 1}, e.typeIds());
        Encoding plain = t.encode("hello", "world", false);
        assertArrayEquals(ids(t, "hello", "world"), plain.ids());
        assertArrayEquals(new int[] {0, 1}, plain.typeIds(), "the template's type ids stay without special tokens");
    }

    @Test
    void wordPieceDecodingKeepsOrSkipsSpecialTokens() throws Exception {
        HfTokenizer t = miniLm();
        int[] ids = ids(t, "[CLS]", "hello", ",", "world", "!", "[SEP]");
        // The WordPiece decoder puts a space before every token but the first, then cleans " ," and " !".
        assertEquals("[CLS] hello, world! [SEP]", t.decode(ids, new DecodeOptions(false, false)));
        // Skipped, the special tokens are gone before decoding: "hello" is the first token, no space before it.
        assertEquals("hello, world!", t.decode(ids, new DecodeOptions(true, false)));
        assertEquals("hello, world!", t.decode(ids), "skipping is the default");
    }

    // ---- Unigram (unigram-small: Metaspace, scores in the file, byte fallback, $A </s>) ------------------------

    @Test
    void unigramPicksTheHighestScoringSegmentation() throws Exception {
        HfTokenizer t = unigram();
        // "unbelievable" -> "▁unbelievable". Segmentations with pieces of the file:
        //   ▁unbeliev (-9.5) + able (-6.0)              = -15.5
        //   ▁un (-5.5) + believ (-8.0) + able (-6.0)     = -19.5
        //   single letters are worse still (▁ -2.0 plus ten letters of -3.0 .. -5.1 each).
        assertArrayEquals(ids(t, "▁unbeliev", "able"), t.encode("unbelievable", false));
        // "newyork": ▁newyork (-9.0) beats ▁new (-6.1) + y o r k (-4.9 -3.4 -3.8 -5.2 = -17.3).
        assertArrayEquals(ids(t, "▁newyork"), t.encode("newyork", false));
        // "new york": two words, ▁new (-6.1) and ▁york (-7.5).
        assertArrayEquals(ids(t, "▁new", "▁york"), t.encode("new york", false));
        // "hello": ▁hello (-6.0) beats ▁he (-5.4) + llo (-7.0) = -12.4.
        assertArrayEquals(ids(t, "▁hello"), t.encode("hello", false));
        assertEquals("unbelievable new york", t.decode(t.encode("unbelievable new york", false)));
    }

    @Test
    void unigramUnknownCharactersFallBackToBytes() throws Exception {
        HfTokenizer t = unigram();
        // "☃" -> "▁☃": ▁ is a piece, ☃ is not: an unknown piece, which byte fallback writes as its UTF-8
        // bytes E2 98 83.
        assertArrayEquals(ids(t, "▁", "<0xE2>", "<0x98>", "<0x83>"), t.encode("☃", false));
        assertEquals("☃", t.decode(t.encode("☃", false)));
        // Two unknown characters in a row are fused into one unknown piece first: ☃☃ -> six bytes.
        assertArrayEquals(ids(t, "▁", "<0xE2>", "<0x98>", "<0x83>", "<0xE2>", "<0x98>", "<0x83>"), t.encode("☃☃", false));
    }

    @Test
    void templateAppendsEndOfSequence() throws Exception {
        HfTokenizer t = unigram();
        // single: $A </s>; pair: $A </s> $B:1 </s>:1.
        assertArrayEquals(ids(t, "▁hello", "</s>"), t.encode("hello", null, true).ids());
        assertEquals(-1, t.bosId(), "nothing is put before the text");
        Encoding pair = t.encode("hello", "world", true);
        assertArrayEquals(ids(t, "▁hello", "</s>", "▁world", "</s>"), pair.ids());
        assertArrayEquals(new int[] {0, 0, 1, 1}, pair.typeIds());
        assertEquals("hello</s> world</s>", t.decode(pair.ids(), new DecodeOptions(false, false)));
        assertEquals("hello world", t.decode(pair.ids(), new DecodeOptions(true, false)));
    }

    // ---- decoding rules ------------------------------------------------------------------------------------

    @Test
    void aSpecialTokenInMidTextKeepsTheNextSpace() throws Exception {
        HfTokenizer t = HfTokenizer.read(HfFixtures.write(dir, "tokenizer.json", HfFixtures.sentencePiece()));
        // ▁hello <s> ▁hello: skipped, <s> is gone before decoding, so only the first ▁hello loses its space.
        assertEquals("hello hello", t.decode(new int[] {268, 1, 268}));
        // Kept, <s> is the first token: no ▁ of its own, and the ▁hello after it keeps its space.
        assertEquals("hello<s> hello", t.decode(new int[] {268, 1, 268}, new DecodeOptions(false, false)));
        assertEquals("<s> hello", t.decode(new int[] {1, 268}, new DecodeOptions(false, false)));
    }

    @Test
    void wordLevelJoinsTokensWithSpacesAndCleansUpOnRequest() throws Exception {
        HfTokenizer t = HfTokenizer.read(HfFixtures.write(dir, "tokenizer.json", HfFixtures.wordLevel()));
        // NFD + lowercase + accents off: "Café" -> "cafe"; Whitespace keeps word runs and punctuation runs:
        // "hello", ",", "cafe", "!" and the unknown "zebra" -> [UNK] (0); BertProcessing adds [CLS] 1 / [SEP] 2.
        int[] ids = t.encode("Hello, Café! zebra", null, true).ids();
        assertArrayEquals(ids(t, "[CLS]", "hello", ",", "cafe", "!", "[UNK]", "[SEP]"), ids);
        // No decoder: tokens joined with spaces.
        assertEquals("hello , cafe !", t.decode(ids));
        assertEquals("[CLS] hello , cafe ! [UNK] [SEP]", t.decode(ids, new DecodeOptions(false, false)));
        // clean_up_tokenization_spaces: " ," -> ",", " !" -> "!".
        assertEquals("hello, cafe!", t.decode(ids, new DecodeOptions(true, true)));
        // "don't": don ' t -> "don ' t", whose " ' " becomes "'".
        assertEquals("don't", t.decode(t.encode("don't", false), new DecodeOptions(true, true)));
        assertFalse(t.cleanUpTokenizationSpaces(), "no tokenizer_config.json: no clean-up by default");
        Files.writeString(dir.resolve(HfTokenizer.CONFIG_FILE), "{\"clean_up_tokenization_spaces\": true}");
        HfTokenizer configured = HfTokenizer.read(dir.resolve("tokenizer.json"));
        assertTrue(configured.cleanUpTokenizationSpaces());
        assertEquals("hello, cafe!", configured.decode(ids, DecodeOptions.of(configured, true)));
        Files.writeString(dir.resolve(HfTokenizer.CONFIG_FILE), "{\"clean_up_tokenization_spaces\": \"yes\"}");
        FormatException e = assertThrows(FormatException.class, () -> HfTokenizer.read(dir.resolve("tokenizer.json")));
        assertEquals(dir.resolve(HfTokenizer.CONFIG_FILE).toAbsolutePath()
                + ": tokenizer_config.clean_up_tokenization_spaces must be true or false, not \"yes\"", e.getMessage());
    }

    @Test
    void wordLevelWithoutAnUnknownTokenRefusesUnknownWords() throws Exception {
        ObjectNode json = HfFixtures.wordLevel();
        ((ObjectNode) json.get("model")).remove("unk_token");
        HfTokenizer t = HfTokenizer.read(HfFixtures.write(dir, "tokenizer.json", json));
        assertArrayEquals(ids(t, "hello"), t.encode("hello", false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.encode("zebra", false));
        assertEquals("'zebra' is not in the WordLevel vocabulary, which has no unknown token", e.getMessage());
    }

    /** Streaming prints what decoding the whole sequence gives, with every option, on random sequences. */
    @Test
    void streamingEqualsDecoding() throws Exception {
        HfTokenizer wordLevel = HfTokenizer.read(HfFixtures.write(dir, "w.json", HfFixtures.wordLevel()));
        HfTokenizer sentencePiece = HfTokenizer.read(HfFixtures.write(dir, "s.json", HfFixtures.sentencePiece()));
        Random r = new Random(11);
        int checked = 0;
        for (Tokenizer t : Stream.of(miniLm(), unigram(), wordLevel, sentencePiece).toList()) {
            for (int k = 0; k < 300; k++) {
                // Small ids are the specials, punctuation and (sentencepiece) byte tokens: the interesting ones.
                int[] ids = r.ints(1 + r.nextInt(30), 0, Math.min(t.vocabSize(), 1200)).toArray();
                for (DecodeOptions o : new DecodeOptions[] {new DecodeOptions(true, true), new DecodeOptions(false, true),
                        new DecodeOptions(true, false)}) {
                    TokenTextStream s = new TokenTextStream(t, o);
                    StringBuilder b = new StringBuilder();
                    for (int id : ids) {
                        b.append(s.push(id));
                    }
                    b.append(s.finish());
                    String whole = t.decode(ids, o);
                    assertEquals(whole, b.toString(), () -> Arrays.toString(ids) + " " + o);
                    checked++;
                }
            }
        }
        assertEquals(4 * 300 * 3, checked);
    }

    // ---- malformed Unigram and post-processor fields -----------------------------------------------------------

    @Test
    void malformedUnigramFilesAreRefusedInOneLine() throws Exception {
        Path good = TestModels.dir("tokenizers").resolve("unigram-small/tokenizer.json");
        ObjectNode json = Json.readObjectFile(good);
        ArrayNode vocab = (ArrayNode) json.get("model").get("vocab");
        vocab.add(HfFixtures.F.arrayNode().add("▁the").add(-1.0));
        assertRefused(json, "model.vocab[" + (vocab.size() - 1) + "] repeats '▁the', already id " + findPiece(vocab, "▁the"));
        vocab.remove(vocab.size() - 1);
        vocab.add(HfFixtures.F.arrayNode().add("x").add("high"));
        assertRefused(json, "model.vocab[" + (vocab.size() - 1) + "][1] must be a finite number, not \"high\"");
        vocab.remove(vocab.size() - 1);
        ((ObjectNode) json.get("model")).put("unk_id", 100000);
        assertRefused(json, "model.unk_id 100000 is outside the vocabulary of " + vocab.size());
    }

    private static int findPiece(ArrayNode vocab, String piece) {
        for (int i = 0; i < vocab.size(); i++) {
            if (vocab.get(i).get(0).asText().equals(piece)) {
                return i;
            }
        }
        return -1;
    }

    private void assertRefused(ObjectNode json, String expected) throws Exception {
        Path file = HfFixtures.write(dir, "bad.json", json);
        FormatException e = assertThrows(FormatException.class, () -> HfTokenizer.read(file));
        assertEquals(file + ": " + expected, e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }
}
