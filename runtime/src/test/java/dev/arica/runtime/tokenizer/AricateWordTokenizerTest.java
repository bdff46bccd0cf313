package dev.arica.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Aricate word tokenizer against tiny-aricate's reference cases (made by the numpy reference implementation). */
class AricateWordTokenizerTest {

    @TempDir
    Path dir;

    static Path model() {
        return TestModels.dir("tiny-aricate");
    }

    static AricateWordTokenizer tokenizer() throws IOException {
        return assertInstanceOf(AricateWordTokenizer.class, Tokenizer.open(model()));
    }

    @Test
    void everyReferenceCaseEncodesAndDecodesAsTheReference() throws IOException {
        AricateWordTokenizer t = tokenizer();
        JsonNode cases = Json.MAPPER.readTree(model().resolve("reference/tokenizer_cases.json").toFile());
        assertEquals(35, cases.size());
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            List<String> tokens = new ArrayList<>();
            c.get("tokens").forEach(n -> tokens.add(n.asText()));
            int[] ids = new int[c.get("ids").size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = c.get("ids").get(i).asInt();
            }
            assertEquals(tokens, t.split(text), () -> "tokens of " + text);
            assertArrayEquals(ids, t.encode(text, false), () -> "ids of " + text);
            assertArrayEquals(ids, t.encode(text, true), () -> "no BOS exists: " + text);
            assertEquals(c.get("decoded").asText(), t.decode(ids), () -> "decoding of " + text);
            TokenTextStream s = new TokenTextStream(t);
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) {
                streamed.append(s.push(id));
            }
            assertEquals(c.get("decoded").asText(), streamed.append(s.finish()).toString(), () -> "streamed " + text);
        }
    }

    @Test
    void specialIdsAndOpeningFromTheVocabularyFile() throws IOException {
        AricateWordTokenizer t = tokenizer();
        assertEquals(-1, t.bosId());
        assertArrayEquals(new int[] {3}, t.eosIds());
        assertEquals(518, t.vocabSize());
        assertEquals("<eos>", t.token(3));
        Tokenizer fromFile = Tokenizer.open(model().resolve("vocab.json"));
        assertInstanceOf(AricateWordTokenizer.class, fromFile);
        assertTrue(fromFile.sameVocabulary(t));
        assertTrue(Tokenizer.presentIn(model()));
    }

    @Test
    void keepingSpecialTokensWritesThemAsWords() throws IOException {
        AricateWordTokenizer t = tokenizer();
        int[] ids = t.encode("is the car red? <eos>", false);
        assertEquals("is the car red?", t.decode(ids));
        // Kept, <eos> is a word like the others: a space before it.
        assertEquals("is the car red? <eos>", t.decode(ids, new DecodeOptions(false, false)));
        // <sep> ends with a space, so the next word has none of its own, also after a skipped <eos>.
        assertEquals(" <sep> is", t.decode(new int[] {2, 3, 27}));
        assertEquals(" <sep> <eos> is", t.decode(new int[] {2, 3, 27}, new DecodeOptions(false, false)));
    }

    Path copyWith(String vocab, String config) throws IOException {
        Files.writeString(dir.resolve("vocab.json"), vocab);
        if (config != null) {
            Files.writeString(dir.resolve("tokenizer_config.json"), config);
        }
        return dir.resolve("vocab.json");
    }

    void assertRefused(Path file, Path named, String problem) {
        FormatException e = assertThrows(FormatException.class, () -> Tokenizer.open(file));
        assertEquals(named + ": " + problem, e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void badVocabulariesAreRefusedInOneLine() throws IOException {
        String specials = "\"<pad>\": 0, \"<unk>\": 1, \"<sep>\": 2, \"<eos>\": 3";
        Path v = copyWith("{" + specials + ", \"a\": 4, \"b\": 4}", null);
        assertRefused(v, v, "id 4 is given to both 'a' and 'b'");
        copyWith("{" + specials + ", \"a\": 4, \"b\": 9}", null);
        assertRefused(v, v, "'b' has id 9, outside 0..5 for 6 tokens");
        copyWith("{\"<pad>\": 0, \"<unk>\": 1, \"<eos>\": 2, \"a\": 3}", null);
        assertRefused(v, v, "the vocabulary has no <sep> (it needs <pad>, <unk>, <sep> and <eos>)");
        copyWith("{" + specials + ", \"a\": \"4\"}", null);
        assertRefused(v, v, "'a' must be a non-negative integer, not \"4\"");
        copyWith("{" + specials + ", \"a\": 4}", "{\"tokenizer_class\": \"GPT2Tokenizer\"}");
        assertRefused(v, dir.resolve("tokenizer_config.json").toAbsolutePath(),
                "names tokenizer_class 'GPT2Tokenizer'; a vocab.json is read only as an AricateWordTokenizer vocabulary");
        // A directory whose config names another class is not an Aricate directory.
        assertRefused(dir, dir, "has no tokenizer (looked for tokenizer.json, tokenizer.llama2c.bin, vocab.json with "
                + "tokenizer_config.json)");
    }

    @Test
    void withoutLowercaseCapitalsAreOtherCharacters() throws IOException {
        Path v = copyWith("{\"<pad>\": 0, \"<unk>\": 1, \"<sep>\": 2, \"<eos>\": 3, \"a\": 4}",
                "{\"tokenizer_class\": \"AricateWordTokenizer\", \"lowercase\": false}");
        AricateWordTokenizer t = AricateWordTokenizer.read(v);
        // "A a": 'A' is not in [a-z0-9'], so it is a one-character token of its own, unknown (1); "a" is 4.
        assertEquals(List.of("A", "a"), t.split("A a"));
        assertArrayEquals(new int[] {1, 4}, t.encode("A a", false));
        assertInstanceOf(AricateWordTokenizer.class, Tokenizer.open(dir));
    }
}
