package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.tokenizer.DecodeOptions;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arica tokenize}: the command's plumbing and output formats; the tokenizers themselves are tested in runtime. */
class TokenizeCommandTest {

    @TempDir
    Path tmp;

    static Path miniLm() {
        return TestModels.dir("tokenizers").resolve("all-minilm-l6-v2/tokenizer.json");
    }

    static List<Integer> ints(JsonNode array) {
        List<Integer> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asInt()));
        return out;
    }

    static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static List<Integer> list(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    @Test
    void encodesWithSpecialTokensAsJsonAndAsLines() throws IOException {
        Tokenizer t = Tokenizer.open(miniLm());
        JsonNode o = ok("tokenize", "--tokenizer", miniLm().toString(), "--text", "Hello, World!", "--json").json();
        // BERT: lowercased, punctuation split off, [CLS] ... [SEP] around.
        assertEquals(List.of("[CLS]", "hello", ",", "world", "!", "[SEP]"), texts(o.get("tokens")));
        assertEquals(list(t.encode("Hello, World!", null, true).ids()), ints(o.get("ids")));
        assertEquals(2, o.size(), "ids and tokens only without --pair");

        String ids = o.get("ids").toString().replace("[", "").replace("]", "");
        String plain = ok("tokenize", "--tokenizer", miniLm().toString(), "--text", "Hello, World!").out();
        assertEquals("ids: " + ids + "\ntokens: \"[CLS]\" \"hello\" \",\" \"world\" \"!\" \"[SEP]\"\n", plain);

        JsonNode bare = ok("tokenize", "--tokenizer", miniLm().toString(), "--text", "Hello, World!", "--no-special-tokens",
                "--json").json();
        assertEquals(List.of("hello", ",", "world", "!"), texts(bare.get("tokens")));
    }

    @Test
    void pairsPrintTypeIds() {
        JsonNode o = ok("tokenize", "--tokenizer", miniLm().toString(), "--text", "hello", "--pair", "world", "--json").json();
        assertEquals(List.of("[CLS]", "hello", "[SEP]", "world", "[SEP]"), texts(o.get("tokens")));
        assertEquals(List.of(0, 0, 0, 1, 1), ints(o.get("type_ids")));
        assertTrue(ok("tokenize", "--tokenizer", miniLm().toString(), "--text", "hello", "--pair", "world").out()
                .endsWith("\ntype_ids: 0,0,0,1,1\n"));
    }

    @Test
    void decodesKeepingOrSkippingSpecialTokens() throws IOException {
        Tokenizer t = Tokenizer.open(miniLm());
        String ids = TokenIds.format(t.encode("Hello, World!", null, true).ids());
        // The WordPiece decoder: a space before each token but the first, " ," and " !" cleaned up.
        assertEquals("[CLS] hello, world! [SEP]\n", ok("tokenize", "--tokenizer", miniLm().toString(), "--decode", ids).out());
        assertEquals("hello, world!\n",
                ok("tokenize", "--tokenizer", miniLm().toString(), "--decode", ids, "--skip-special-tokens").out());
        JsonNode o = ok("tokenize", "--tokenizer", miniLm().toString(), "--decode", ids, "--json").json();
        assertEquals("[CLS] hello, world! [SEP]", o.get("text").asText());
    }

    @Test
    void jsonlEncodesAndDecodesManyTextsInOneRun() throws IOException {
        Tokenizer t = Tokenizer.open(miniLm());
        List<String> texts = List.of("Hello, World!", "", "Café 中文 \"quoted\"\tand\nnewline", "unaffable", "[SEP] in text");
        Path in = tmp.resolve("texts.jsonl");
        List<String> lines = new ArrayList<>();
        for (String s : texts) {
            lines.add(CliTesting.JSON.writeValueAsString(s));
        }
        Files.write(in, lines, StandardCharsets.UTF_8);
        String[] out = ok("tokenize", "--tokenizer", miniLm().toString(), "--jsonl", in.toString()).out().split("\n");
        assertEquals(texts.size(), out.length);
        List<String> idLines = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            JsonNode o = CliTesting.JSON.readTree(out[i]);
            assertEquals(list(t.encode(texts.get(i), null, true).ids()), ints(o.get("ids")), texts.get(i));
            assertEquals(o.get("ids").size(), o.get("tokens").size());
            idLines.add(o.get("ids").toString());
        }
        Path ids = tmp.resolve("ids.jsonl");
        Files.write(ids, idLines, StandardCharsets.UTF_8);
        String[] decoded = ok("tokenize", "--tokenizer", miniLm().toString(), "--decode-jsonl", ids.toString(),
                "--skip-special-tokens").out().split("\n");
        assertEquals(texts.size(), decoded.length);
        for (int i = 0; i < texts.size(); i++) {
            int[] expected = t.encode(texts.get(i), null, true).ids();
            assertEquals(t.decode(expected, new DecodeOptions(true, false)), CliTesting.JSON.readTree(decoded[i]).get("text").asText());
        }
    }

    /** The tiny-aricate reference cases through the command: a model directory as MODEL, all texts in one run. */
    @Test
    void aricateModelDirectoryMatchesItsReferenceCases() throws IOException {
        Path model = TestModels.dir("tiny-aricate");
        JsonNode cases = CliTesting.JSON.readTree(model.resolve("reference/tokenizer_cases.json").toFile());
        List<String> texts = new ArrayList<>(), ids = new ArrayList<>();
        cases.forEach(c -> {
            texts.add(c.get("text").toString());
            ids.add(c.get("ids").toString());
        });
        Files.write(tmp.resolve("texts.jsonl"), texts, StandardCharsets.UTF_8);
        Files.write(tmp.resolve("ids.jsonl"), ids, StandardCharsets.UTF_8);
        String[] encoded = ok("tokenize", model.toString(), "--jsonl", tmp.resolve("texts.jsonl").toString()).out().split("\n");
        String[] decoded = ok("tokenize", model.toString(), "--decode-jsonl", tmp.resolve("ids.jsonl").toString(),
                "--skip-special-tokens").out().split("\n");
        assertEquals(35, encoded.length);
        assertEquals(35, decoded.length);
        for (int i = 0; i < 35; i++) {
            JsonNode c = cases.get(i);
            assertEquals(ints(c.get("ids")), ints(CliTesting.JSON.readTree(encoded[i]).get("ids")), c.get("text").asText());
            assertEquals(c.get("decoded").asText(), CliTesting.JSON.readTree(decoded[i]).get("text").asText());
        }
        // The vocabulary file itself, and a file in the model directory, work as well.
        JsonNode viaVocab = ok("tokenize", "--tokenizer", model.resolve("vocab.json").toString(), "--text", "What color is the ball?",
                "--json").json();
        assertEquals(ints(cases.get(0).get("ids")), ints(viaVocab.get("ids")));
        assertEquals(texts(cases.get(0).get("tokens")), texts(viaVocab.get("tokens")), "all words of the first case are known");
        assertEquals(viaVocab, ok("tokenize", model.resolve("config.json").toString(), "--text", "What color is the ball?",
                "--json").json());
    }

    @Test
    void llama2cTokenizerAddsBos() throws IOException {
        Path tok = Stories260K.dir().resolve("tok512.bin");
        Tokenizer t = Tokenizer.open(tok);
        JsonNode o = ok("tokenize", "--tokenizer", tok.toString(), "--text", "Once upon a time", "--json").json();
        assertEquals(list(t.encode("Once upon a time", true)), ints(o.get("ids")));
        assertEquals(1, o.get("ids").get(0).asInt(), "BOS first");
        assertEquals(list(t.encode("Once upon a time", false)),
                ints(ok("tokenize", "--tokenizer", tok.toString(), "--text", "Once upon a time", "--no-special-tokens",
                        "--json").json().get("ids")));
    }

    @Test
    void badInputIsOneLine() throws IOException {
        String tok = miniLm().toString();
        assertBadInput(run("tokenize", "--text", "x"), "MODEL", "--tokenizer");
        assertBadInput(run("tokenize", tmp.toString(), "--tokenizer", tok, "--text", "x"), "not both");
        assertBadInput(run("tokenize", "--tokenizer", tok), "--text", "--decode");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--text", "x", "--decode", "1"), "--text", "--decode");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode", "1,99999"), "--decode", "99999", "30522");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode", "1,x"), "--decode", "'x'");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode", "1", "--pair", "y"), "--pair", "--text");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode", "1", "--no-special-tokens"), "--skip-special-tokens");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--text", "x", "--skip-special-tokens"), "--no-special-tokens");
        assertBadInput(run("tokenize", "--tokenizer", tmp.resolve("nope.json").toString(), "--text", "x"), "nope.json",
                "no such file");
        assertBadInput(run("tokenize", tmp.toString(), "--text", "x"), tmp.toString(), "no tokenizer", "--tokenizer");

        Path lines = tmp.resolve("bad.jsonl");
        Files.writeString(lines, "\"ok\"\n42\n");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--jsonl", lines.toString()), lines + ":2", "a JSON string", "NUMBER");
        Files.writeString(lines, "[1, 2]\n[3, -4]\n");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode-jsonl", lines.toString()), lines + ":2", "item 2", "-4");
        Files.writeString(lines, "[1, 2]\n[3, 40000]\n");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode-jsonl", lines.toString()), lines + ":2", "40000");
        Files.writeString(lines, "[1, 2\n");
        assertBadInput(run("tokenize", "--tokenizer", tok, "--decode-jsonl", lines.toString()), lines + ":1", "not JSON");

        Path unknown = tmp.resolve("tokenizer.json");
        Files.writeString(unknown, Files.readString(miniLm()).replace("\"type\": \"WordPiece\",\n    \"unk_token\"",
                "\"type\": \"SentencePieceBPE\",\n    \"unk_token\""));
        assertBadInput(run("tokenize", "--tokenizer", unknown.toString(), "--text", "x"), unknown.toString(),
                "model type 'SentencePieceBPE' is not supported (supported: BPE, WordPiece, Unigram, WordLevel)");

        Path vocab = tmp.resolve("vocab.json");
        Files.writeString(vocab, "{\"<pad>\": 0, \"<unk>\": 1, \"<sep>\": 2, \"<eos>\": 3, \"a\": 3}");
        assertBadInput(run("tokenize", "--tokenizer", vocab.toString(), "--text", "x"), vocab.toString(),
                "id 3 is given to both '<eos>' and 'a'");
        Files.writeString(vocab, "{\"<pad>\": 0, \"<unk>\": 1, \"a\": 2}");
        assertBadInput(run("tokenize", "--tokenizer", vocab.toString(), "--text", "x"), vocab.toString(), "has no <sep>");
    }
}
