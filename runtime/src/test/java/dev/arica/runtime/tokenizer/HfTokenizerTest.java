package dev.arica.runtime.tokenizer;

import static dev.arica.runtime.tokenizer.HfFixtures.F;
import static dev.arica.runtime.tokenizer.HfFixtures.typed;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tokenizer.json BPE on fixtures from {@link HfFixtures}; every expected id sequence is worked out by hand
 * from the BPE rules in the comment above it (ids and merge ranks are listed in the fixture).
 */
class HfTokenizerTest {

    @TempDir
    Path dir;

    HfTokenizer read(ObjectNode json) throws Exception {
        return HfTokenizer.read(HfFixtures.write(dir, "tokenizer.json", json));
    }

    HfTokenizer byteLevel() throws Exception {
        return read(HfFixtures.byteLevel());
    }

    HfTokenizer sentencePiece() throws Exception {
        return read(HfFixtures.sentencePiece());
    }

    // ---- byte-level BPE ----------------------------------------------------------------------------

    @Test
    void byteLevelWordsAndMerges() throws Exception {
        HfTokenizer t = byteLevel();
        // GPT-2's pattern cuts "hello the" into "hello", " the"; bytes become stand-ins: "hello", "Ġthe".
        // "hello": h e l l o; he (rank 1) -> [he l l o]; ll (3) -> [he ll o]; he+ll (4) -> [hell o];
        // hell+o (5) -> [hello]=261. "Ġthe": Ġt (0) -> [Ġt h e]; he (1) -> [Ġt he]; Ġt+he (2) -> Ġthe=258.
        assertArrayEquals(new int[] {261, 258}, t.encode("hello the", false));
        assertEquals(-1, t.bosId(), "a ByteLevel post-processor adds no BOS");
        assertArrayEquals(new int[] {261, 258}, t.encode("hello the", true));
        assertEquals("hello the", t.decode(new int[] {261, 258}));
    }

    @Test
    void lowerRankMergesFirstEvenWhenFurtherRight() throws Exception {
        // "abc": pairs ab (rank 7) and bc (rank 6); bc merges first -> [a bc] = [97, 262], and "a bc" is no
        // merge. Merging the leftmost pair first would give [ab c] = [263, 99].
        assertArrayEquals(new int[] {97, 262}, byteLevel().encode("abc", false));
    }

    @Test
    void byteLevelWhitespaceAndUnicode() throws Exception {
        HfTokenizer t = byteLevel();
        // "  the": \s+(?!\S) takes the first space only (the second is followed by 't'), then " the":
        // [Ġ]=32 and [Ġthe]=258.
        assertArrayEquals(new int[] {32, 258}, t.encode("  the", false));
        assertEquals("  the", t.decode(new int[] {32, 258}));
        // "é" is C3 A9; both bytes are printable Latin-1, their own stand-ins, ids 195 and 169; no merges.
        // " é" is one word (" ?\p{L}+"): Ġ=32 first.
        assertArrayEquals(new int[] {261, 32, 195, 169}, t.encode("hello é", false));
        assertEquals("hello é", t.decode(new int[] {261, 32, 195, 169}));
        TokenTextStream s = new TokenTextStream(t);
        assertEquals("hello", s.push(261));
        assertEquals(" ", s.push(32));
        assertEquals("", s.push(195), "half a character waits");
        assertEquals("é", s.push(169));
        // Control characters have stand-ins above U+00FF: "\n" is byte 10, id 10.
        assertArrayEquals(new int[] {261, 10}, t.encode("hello\n", false));
    }

    @Test
    void specialTokensAreCutOutAndNotDecoded() throws Exception {
        HfTokenizer t = byteLevel();
        // "hello<|endoftext|>the": "hello" = [261], the special token = 264, then "the" on its own:
        // t h e; he (1) -> [t he] = [116, 257]; "t he" is no merge.
        int[] ids = t.encode("hello<|endoftext|>the", false);
        assertArrayEquals(new int[] {261, 264, 116, 257}, ids);
        assertEquals("hellothe", t.decode(ids), "special tokens decode to nothing");
        assertTrue(t.isSpecial(264));
        assertArrayEquals(new int[] {264}, t.eosIds());
        HfTokenizer custom = t.withSpecialIds(264, 261);
        assertEquals(264, custom.bosId());
        assertArrayEquals(new int[] {264, 261, 258}, custom.encode("hello the", true));
        assertThrows(IllegalArgumentException.class, () -> t.withSpecialIds(-1, 265));
    }

    @Test
    void addedTokensHonourLstripAndRstrip() throws Exception {
        ObjectNode json = HfFixtures.byteLevel();
        ObjectNode x = HfFixtures.added(265, "<|x|>", true);
        x.put("lstrip", true).put("rstrip", true);
        ((ArrayNode) json.get("added_tokens")).add(x);
        ObjectNode y = HfFixtures.added(266, "<|y|>", true);
        ((ArrayNode) json.get("added_tokens")).add(y);
        HfTokenizer t = read(json);
        // The spaces around <|x|> belong to it: "a", 265, "b".
        assertArrayEquals(new int[] {97, 265, 98}, t.encode("a <|x|> b", false));
        // Around <|y|> they stay: "a " -> "a", " " (\s+ at the end) = [97, 32]; " b" -> [Ġ b] = [32, 98].
        assertArrayEquals(new int[] {97, 32, 266, 32, 98}, t.encode("a <|y|> b", false));
    }

    @Test
    void llama3StyleSplitByteLevelAndIgnoreMerges() throws Exception {
        ObjectNode json = HfFixtures.byteLevel();
        ObjectNode model = (ObjectNode) json.get("model");
        ((ObjectNode) model.get("vocab")).put("abc", 265);
        model.put("ignore_merges", true);
        ((ArrayNode) json.get("added_tokens")).add(HfFixtures.added(266, "<|begin_of_text|>", true));
        ObjectNode split = typed("Split");
        split.putObject("pattern").put("Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
        split.put("behavior", "Isolated").put("invert", false);
        ObjectNode pre = typed("Sequence");
        pre.putArray("pretokenizers").add(split)
                .add(typed("ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", false));
        json.set("pre_tokenizer", pre);
        ObjectNode template = typed("TemplateProcessing");
        template.putArray("single")
                .add(F.objectNode().set("SpecialToken", F.objectNode().put("id", "<|begin_of_text|>").put("type_id", 0)))
                .add(F.objectNode().set("Sequence", F.objectNode().put("id", "A").put("type_id", 0)));
        template.putObject("special_tokens").putObject("<|begin_of_text|>").put("id", "<|begin_of_text|>")
                .<ObjectNode>set("ids", F.arrayNode().add(266));
        ObjectNode post = typed("Sequence");
        post.putArray("processors").add(typed("ByteLevel").put("trim_offsets", false)).add(template);
        json.set("post_processor", post);
        HfTokenizer t = read(json);
        assertEquals(266, t.bosId(), "BOS from the template inside the Sequence post-processor");
        // "abc" is a vocabulary entry: with ignore_merges it is taken whole (the merges would give [97, 262]).
        assertArrayEquals(new int[] {266, 265}, t.encode("abc", true));
        // "hello the" -> "hello", " the" (the letter run takes one leading non-letter); both whole words
        // of the vocabulary: hello=261, Ġthe=258.
        assertArrayEquals(new int[] {261, 258}, t.encode("hello the", false));
        // "abcd" is not in the vocabulary, so it merges: ab (7), bc (6) -> bc; [a bc d] = [97, 262, 100].
        assertArrayEquals(new int[] {97, 262, 100}, t.encode("abcd", false));
        assertEquals("abcd", t.decode(new int[] {266, 97, 262, 100}));
    }

    // ---- sentencepiece-style BPE -------------------------------------------------------------------

    @Test
    void sentencePieceMergesByRank() throws Exception {
        HfTokenizer t = sentencePiece();
        assertEquals(1, t.bosId());
        // Normalized "▁hello": ▁ h e l l o. ▁h (0) -> [▁h e l l o]; then el (5) and ll (1): ll first ->
        // [▁h e ll o]; e+ll (2) -> [▁h ell o]; ▁h+ell (3) -> [▁hell o]; ▁hell+o (4) -> [▁hello] = 268.
        // (el first would have left [▁h el l o] = [264, 269, 262, 263].)
        assertArrayEquals(new int[] {1, 268}, t.encode("hello", true));
        assertArrayEquals(new int[] {268}, t.encode("hello", false));
        // Spaces become ▁ and the text is one word: the same merges happen twice.
        assertArrayEquals(new int[] {268, 268}, t.encode("hello hello", false));
        assertArrayEquals(new int[0], t.encode("", false), "Prepend leaves empty text empty");
        assertArrayEquals(new int[] {1}, t.encode("", true));
    }

    @Test
    void sentencePieceDecodingDropsTheFirstSpace() throws Exception {
        HfTokenizer t = sentencePiece();
        assertEquals("hello hello", t.decode(new int[] {1, 268, 268}));
        assertEquals("hello", t.decode(new int[] {268}), "at the start of the text");
        // Streaming after a prompt token: the space stays.
        assertArrayEquals(" hello".getBytes(StandardCharsets.UTF_8), t.decodeBytes(260, 268));
        assertEquals("", t.decode(new int[] {1, 2}), "BOS and EOS are special");
    }

    @Test
    void byteFallbackForCharactersOutsideTheVocabulary() throws Exception {
        HfTokenizer t = sentencePiece();
        // "hé" -> "▁hé": 'é' is not in the vocabulary; its bytes C3 A9 are <0xC3>=3+195=198 and
        // <0xA9>=3+169=172. ▁h (0) merges; the byte tokens merge with nothing.
        int[] ids = t.encode("hé", true);
        assertArrayEquals(new int[] {1, 264, 198, 172}, ids);
        assertEquals("hé", t.decode(ids));
        TokenTextStream s = new TokenTextStream(t, 1);
        assertEquals("h", s.push(264));
        assertEquals("", s.push(198));
        assertEquals("", s.push(172), "a run of byte tokens waits for its end: it is text only if valid as a whole");
        assertEquals("é", s.push(268).substring(0, 1), "the next piece ends the run");
        // Ill-formed runs: one U+FFFD per byte token, even for a valid byte in the run, as tokenizers' ByteFallback.
        // <0xC3> alone (198) is an unfinished character; <0x41> 'A' = 3+65 = 68 after it does not save it.
        assertEquals("h\uFFFD\uFFFD", t.decode(new int[] {264, 198, 68}));
        assertEquals("h\uFFFD helloA", t.decode(new int[] {264, 198, 2, 268, 68}),
                "a normal token ends the run, a skipped one does not");
    }

    @Test
    void unknownCharactersWithoutByteFallback() throws Exception {
        ObjectNode json = HfFixtures.sentencePiece();
        ((ObjectNode) json.get("model")).put("byte_fallback", false);
        // "hé!" -> "▁hé!": 'é' and '!' are unknown and adjacent: one <unk> with fuse_unk -> [▁h, <unk>].
        assertArrayEquals(new int[] {264, 0}, read(json).encode("hé!", false));
        ((ObjectNode) json.get("model")).put("fuse_unk", false);
        assertArrayEquals(new int[] {264, 0, 0}, read(json).encode("hé!", false));
        ((ObjectNode) json.get("model")).remove("unk_token");
        assertArrayEquals(new int[] {264}, read(json).encode("hé!", false), "no unk token: dropped, as tokenizers does");
    }

    @Test
    void specialTokenInTheTextAndPerStretchNormalization() throws Exception {
        HfTokenizer t = sentencePiece();
        // "<s>" is cut out first; "hello" after it is normalized on its own, so it gets its ▁ too.
        assertArrayEquals(new int[] {1, 268}, t.encode("<s>hello", false));
        assertArrayEquals(new int[] {1, 1, 268}, t.encode("<s>hello", true));
    }

    @Test
    void metaspacePrependsOnlyAtTheStartOfTheText() throws Exception {
        ObjectNode json = HfFixtures.sentencePiece();
        json.putNull("normalizer");
        json.set("pre_tokenizer", typed("Metaspace").put("replacement", "▁").put("prepend_scheme", "first").put("split", false));
        json.set("decoder", typed("Metaspace").put("replacement", "▁").put("prepend_scheme", "first").put("split", false));
        HfTokenizer t = read(json);
        assertArrayEquals(new int[] {268, 268}, t.encode("hello hello", false));
        // After <s> the stretch does not start the text: no ▁. h e l l o: ll (1) -> e+ll (2) -> [h ell o];
        // "h ell" is no merge: [260, 266, 263].
        assertArrayEquals(new int[] {1, 260, 266, 263}, t.encode("<s>hello", false));
        assertEquals("hello hello", t.decode(new int[] {268, 268}));
        assertEquals("hello", t.decode(new int[] {1, 260, 266, 263}));
        // split: true cuts before each ▁; the words merge the same way.
        json.set("pre_tokenizer", typed("Metaspace").put("replacement", "▁").put("prepend_scheme", "always").put("split", true));
        assertArrayEquals(new int[] {268, 268}, read(json).encode("hello hello", false));
        assertArrayEquals(new int[] {1, 268}, read(json).encode("<s>hello", false), "always: after <s> too");
    }

    @Test
    void splitBehaviors() {
        java.util.regex.Pattern dash = java.util.regex.Pattern.compile("-");
        assertEquals(java.util.List.of("a", "-", "b", "-", "-", "c"), HfPreTokenizer.cut("a-b--c", dash, HfPreTokenizer.Behavior.ISOLATED, false));
        assertEquals(java.util.List.of("a", "b", "c"), HfPreTokenizer.cut("a-b--c", dash, HfPreTokenizer.Behavior.REMOVED, false));
        assertEquals(java.util.List.of("a-", "b-", "-", "c"), HfPreTokenizer.cut("a-b--c", dash, HfPreTokenizer.Behavior.MERGED_WITH_PREVIOUS, false));
        assertEquals(java.util.List.of("a", "-b", "-", "-c"), HfPreTokenizer.cut("a-b--c", dash, HfPreTokenizer.Behavior.MERGED_WITH_NEXT, false));
        assertEquals(java.util.List.of("a", "-", "b", "--", "c"), HfPreTokenizer.cut("a-b--c", dash, HfPreTokenizer.Behavior.CONTIGUOUS, false));
        // invert: the matches are the words and the rest the delimiters.
        java.util.regex.Pattern letter = java.util.regex.Pattern.compile("[a-z]");
        assertEquals(java.util.List.of("a", "b", "c"), HfPreTokenizer.cut("a-b--c", letter, HfPreTokenizer.Behavior.REMOVED, true));
        assertEquals(java.util.List.of("a", "-", "b", "--", "c"), HfPreTokenizer.cut("a-b--c", letter, HfPreTokenizer.Behavior.ISOLATED, true));
    }

    @Test
    void vocabularyComparison() throws Exception {
        HfTokenizer a = byteLevel();
        ObjectNode other = HfFixtures.byteLevel();
        ArrayNode merges = (ArrayNode) other.get("model").get("merges");
        merges.remove(6);
        HfTokenizer fewerMerges = read(other);
        assertTrue(a.sameVocabulary(fewerMerges), "merges are not part of the vocabulary");
        // Without "b c" only "a b" applies to "abc": [ab c] = [263, 99].
        assertArrayEquals(new int[] {263, 99}, fewerMerges.encode("abc", false));
        assertFalse(a.sameVocabulary(sentencePiece()));
        assertEquals(265, a.vocabSize());
        assertEquals("hello", a.token(261));
        assertEquals(261, a.id("hello"));
    }

    // ---- malformed files ---------------------------------------------------------------------------

    void assertRefused(ObjectNode json, String expectedProblem) throws Exception {
        Path file = HfFixtures.write(dir, "bad.json", json);
        FormatException e = assertThrows(FormatException.class, () -> HfTokenizer.read(file));
        assertEquals(file + ": " + expectedProblem, e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    ObjectNode with(ObjectNode json, Consumer<ObjectNode> change) {
        change.accept(json);
        return json;
    }

    @Test
    void malformedFilesAreRefusedInOneLine() throws Exception {
        Path notJson = dir.resolve("broken.json");
        Files.writeString(notJson, "{\"model\": {\"type\": \"BPE\", ");
        FormatException e = assertThrows(FormatException.class, () -> HfTokenizer.read(notJson));
        assertTrue(e.getMessage().startsWith(notJson + ": content is not valid JSON"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());

        assertRefused(with(HfFixtures.byteLevel(), j -> ((ObjectNode) j.get("model")).put("type", "Mystery")),
                "model type 'Mystery' is not supported (supported: BPE, WordPiece, Unigram, WordLevel)");
        assertRefused(with(HfFixtures.byteLevel(), j -> ((ObjectNode) j.get("model")).remove("vocab")), "model.vocab is missing");
        assertRefused(with(HfFixtures.byteLevel(), j -> j.remove("model")), "model must be an object");
        assertRefused(with(HfFixtures.byteLevel(), j -> ((ArrayNode) j.get("model").get("merges")).add("zz q")),
                "model.merges[8] uses 'zz', which is not in the vocabulary");
        assertRefused(with(HfFixtures.byteLevel(), j -> ((ArrayNode) j.get("model").get("merges")).add("abc")),
                "model.merges[8] 'abc' is not two tokens separated by one space");
        assertRefused(with(HfFixtures.byteLevel(), j -> ((ObjectNode) j.get("model").get("vocab")).put("zz", 3)),
                "model.vocab gives id 3 to both '" + HfFixtures.byteChar(3) + "' and 'zz'");
        assertRefused(with(HfFixtures.byteLevel(), j -> ((ObjectNode) j.get("model").get("vocab")).put("zz", -1)),
                "model.vocab['zz'] must be a non-negative integer, not -1");
        // found by fuzzing: one token of a huge id made every per-id table that large
        assertRefused(with(HfFixtures.byteLevel(), j -> ((ObjectNode) j.get("model").get("vocab")).put("zz", 6891108)),
                "model.vocab gives ids up to 6891108 to 266 tokens: arica keeps a table by id and accepts at most twice as many "
                        + "ids as tokens (plus 1024)");
        assertRefused(with(HfFixtures.byteLevel(), j -> j.set("pre_tokenizer", typed("UnicodeScripts"))),
                "pre_tokenizer type 'UnicodeScripts' is not supported (supported: Sequence, ByteLevel, Split, Metaspace, "
                        + "BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits)");
        assertRefused(with(HfFixtures.byteLevel(), j -> {
            ObjectNode s = typed("Split").put("behavior", "Isolated");
            s.putObject("pattern").put("Regex", "(unclosed");
            j.set("pre_tokenizer", s);
        }), "pre_tokenizer.pattern is not a usable regex: Unclosed group");
        assertRefused(with(HfFixtures.sentencePiece(), j -> ((ObjectNode) j.get("model")).put("unk_token", "<nope>")),
                "model.unk_token '<nope>' is not in the vocabulary");
        assertRefused(with(HfFixtures.sentencePiece(), j -> ((ArrayNode) j.get("added_tokens")).add(HfFixtures.added(5, "<x>", true))),
                "added_tokens[3] gives id 5 to '<x>', which the vocabulary gives to '<0x02>'");
        assertRefused(with(HfFixtures.sentencePiece(), j -> ((ArrayNode) j.get("decoder").get("decoders")).add(
                typed("Strip").put("content", " ").put("start", 0).put("stop", 1))),
                "decoder strips the end of the whole text (Strip stop 1 after Fuse), which a streaming decoder cannot know");
        assertRefused(with(HfFixtures.sentencePiece(), j -> j.set("normalizer", typed("Precompiled"))),
                "normalizer type 'Precompiled' is not supported (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, "
                        + "NFKD, Lowercase, Strip, StripAccents, BertNormalizer)");
        assertRefused(with(HfFixtures.sentencePiece(), j -> j.set("decoder", typed("CTC"))),
                "decoder type 'CTC' is not supported (supported: Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel, "
                        + "Metaspace, WordPiece)");
        assertRefused(with(HfFixtures.sentencePiece(), j -> j.set("post_processor", typed("Mystery"))),
                "post_processor type 'Mystery' is not supported (supported: TemplateProcessing, BertProcessing, "
                        + "RobertaProcessing, ByteLevel, Sequence)");
        assertRefused(with(HfFixtures.sentencePiece(), j -> ((ObjectNode) j.get("model")).put("dropout", 0.1)),
                "model.dropout 0.1 is not supported (generation needs deterministic encoding)");
    }
}
