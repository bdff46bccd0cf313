package dev.arica.cli;

import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * BERT and RoBERTa through the command line: forward writes the masked-LM logits and the last hidden state within 1e-4
 * of the references for every case (padding and the sentence pair included); embed is the mean (then unit-length)
 * pooling of forward's hidden state; the commands that need a decoder refuse an encoder in one line.
 */
class EncoderCommandsTest {
    @TempDir
    static Path tmp;

    static Path cache;

    @BeforeAll
    static void setUp() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        cache = tmp.resolve("cache");
    }

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String m : List.of("tiny-bert", "tiny-roberta")) {
            for (JsonNode c : Json.readObjectFile(TestModels.dir(m).resolve("reference/cases.json")).get("cases")) {
                for (String values : List.of("logits", "hidden")) {
                    out.add(Arguments.of(m, c.get("name").asText(), values));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void forwardWritesWhatTheReferenceComputes(String model, String name, String values) throws IOException {
        Path dir = TestModels.dir(model);
        JsonNode c = null;
        for (JsonNode x : Json.readObjectFile(dir.resolve("reference/cases.json")).get("cases")) {
            c = x.get("name").asText().equals(name) ? x : c;
        }
        Path npy = tmp.resolve(model + "-" + name + "-" + values + ".npy");
        List<String> args = new ArrayList<>(List.of("forward", dir.toString(), "--ids", list(c.get("input_ids")), "--attention-mask",
                list(c.get("attention_mask")), "--values", values, "-o", npy.toString(), "--device", "cpu", "--threads", "1",
                "--cache-dir", cache.toString()));
        if (model.equals("tiny-bert")) {
            args.addAll(List.of("--token-type-ids", list(c.get("token_type_ids"))));
        }
        succeeds(args.toArray(String[]::new));
        ForwardCommandTest.Npy got = ForwardCommandTest.Npy.read(npy);
        String file = (values.equals("logits") ? "logits" : "hidden") + (name.equals("full") ? "" : "_" + name) + ".f32";
        float[][] want = rows(dir.resolve("reference/" + file), got.cols());
        double worst = ReferenceRuns.largestDifference(want, got);
        assertTrue(worst <= 1e-4, model + " " + name + " " + values + ": differs from the reference by " + worst);
    }

    @Test
    void embedIsTheMeanOfTheHiddenStateScaledToUnitLength() throws IOException {
        Path bert = TestModels.dir("tiny-bert");
        Path tokenizer = wordPieceTokenizer(tmp.resolve("tokenizer.json"));
        String text = "The cat sat on the mat.";
        Path npy = tmp.resolve("embed-hidden.npy");
        succeeds("forward", bert.toString(), "--text", text, "--tokenizer", tokenizer.toString(), "--values", "hidden", "-o",
                npy.toString(), "--device", "cpu", "--cache-dir", cache.toString());
        ForwardCommandTest.Npy hidden = ForwardCommandTest.Npy.read(npy);
        assertEquals(9, hidden.rows(), "[CLS] the cat sat on the mat . [SEP]");
        double[] mean = new double[hidden.cols()];
        for (float[] row : hidden.values()) {
            for (int j = 0; j < mean.length; j++) {
                mean[j] += row[j] / (double) hidden.rows();
            }
        }
        double norm = Math.sqrt(java.util.Arrays.stream(mean).map(x -> x * x).sum());
        JsonNode e = succeeds("embed", bert.toString(), "--text", text, "--tokenizer", tokenizer.toString(), "--normalize", "--json",
                "--device", "cpu", "--cache-dir", cache.toString()).json();
        assertEquals(9, e.get("tokens").asInt());
        for (int j = 0; j < mean.length; j++) {
            assertEquals(mean[j] / norm, e.get("embedding").get(j).asDouble(), 1e-6, "dimension " + j);
        }
        // Batch use: one object per line, the same vectors.
        Path lines = tmp.resolve("texts.jsonl");
        Files.writeString(lines, "\"" + text + "\"\n\"a dog\"\n");
        CliTesting.Run r = succeeds("embed", bert.toString(), "--jsonl", lines.toString(), "--tokenizer", tokenizer.toString(),
                "--normalize", "--device", "cpu", "--cache-dir", cache.toString());
        List<String> out = r.out().lines().toList();
        assertEquals(2, out.size(), r.out());
        assertEquals(e.get("embedding"), CliTesting.JSON.readTree(out.get(0)).get("embedding"));
        // A line that is not a JSON string: one line naming the file and the line, exit 2.
        Path bad = tmp.resolve("bad.jsonl");
        Files.writeString(bad, "\"a dog\"\n42\n");
        CliTesting.Run b = run("embed", bert.toString(), "--jsonl", bad.toString(), "--tokenizer", tokenizer.toString(),
                "--device", "cpu", "--cache-dir", cache.toString());
        assertEquals(ExitCode.BAD_INPUT, b.exit(), b::toString);
        assertTrue(b.err().contains(bad + ":2: expected a JSON string per line, not NUMBER"), b.err());
    }

    @Test
    void validateGatesAQuantizedEncoderAndRefusesABrokenOne() throws IOException {
        Path bert = TestModels.dir("tiny-bert");
        Path q8 = tmp.resolve("bert-q8_0.arica");
        succeeds("quantize", bert.toString(), "--scheme", "q8_0", "-o", q8.toString(), "--no-digest-cache");
        List<String> common = List.of("--ids", "101,219,22,148,255,199,307,103,135,102", "--ids", "101,133,184,279,110,102",
                "--device", "cpu", "--threads", "1", "--cache-dir", cache.toString(), "--json", "-");
        List<String> pass = new ArrayList<>(List.of("validate", "--reference", bert.toString(), "--candidate", q8.toString(),
                "--min-cosine", "0.99", "--min-agreement", "0.9", "--max-kl", "0.01"));
        pass.addAll(common);
        CliTesting.Run r = succeeds(pass.toArray(String[]::new));
        JsonNode j = r.json();
        // Measured: q8_0 min cosine 0.99999, agreement 1.0, mean KL ~1e-5 on this model.
        assertTrue(j.get("min_cosine").asDouble() >= 0.99, j::toString);
        assertEquals(2, j.get("cosines").size());
        assertTrue(j.get("masked_lm").get("positions").asInt() == 16, j::toString);
        // One layer of two: the gate must fail it (exit 1), naming the threshold.
        Path cut = tmp.resolve("bert-one-layer");
        succeeds("upscale", bert.toString(), "-o", cut.toString(), "--slices", "0:1");
        List<String> fail = new ArrayList<>(List.of("validate", "--reference", bert.toString(), "--candidate", cut.toString(),
                "--min-cosine", "0.99"));
        fail.addAll(common);
        CliTesting.Run f = run(fail.toArray(String[]::new));
        assertEquals(ExitCode.FAILED, f.exit(), f::toString);
        assertTrue(f.err().contains("(--min-cosine)"), f.err());
    }

    @Test
    void inspectDescribesBothEncoders() throws IOException {
        JsonNode bert = succeeds("inspect", TestModels.dir("tiny-bert").toString(), "--json").json().get("family");
        assertEquals("encoder", bert.get("kind").asText(), bert::toString);
        assertEquals(2, bert.get("type_vocab_size").asInt());
        assertTrue(bert.get("masked_lm_head").asBoolean());
        JsonNode roberta = succeeds("inspect", TestModels.dir("tiny-roberta").toString(), "--json").json().get("family");
        assertEquals(128, roberta.get("context_length").asInt(), "130 positions less padding_idx + 1");
        assertEquals(1, roberta.get("type_vocab_size").asInt());
    }

    @Test
    void badEncoderOptionsAreOneLineAndWriteNothing() throws IOException {
        String bert = TestModels.dir("tiny-bert").toString();
        String roberta = TestModels.dir("tiny-roberta").toString();
        Path npy = tmp.resolve("refused.npy");
        List<String> common = List.of("--device", "cpu", "--cache-dir", cache.toString());
        CliTesting.assertBadInput(run(with(common, "forward", bert, "--ids", "101,5,102", "--attention-mask", "1,1", "-o",
                npy.toString())), "--attention-mask has 2 values for 3 ids");
        CliTesting.assertBadInput(run(with(common, "forward", bert, "--ids", "101,5,102", "--values", "scores", "-o",
                npy.toString())), "--values must be logits or hidden, not 'scores'");
        // Exported once first: the refusal below is then the only line (an export's progress line is not part of it).
        succeeds(with(common, "forward", roberta, "--ids", "0,5,2", "-o", tmp.resolve("roberta-ok.npy").toString()));
        CliTesting.assertBadInput(run(with(common, "forward", roberta, "--ids", "0,5,2", "--token-type-ids", "0,0,1", "-o",
                npy.toString())), "has one segment (no token_type_ids input): token types must be 0");
        CliTesting.assertBadInput(run(with(common, "forward", TestModels.dir("tiny-aricate").toString(), "--ids", "25,2",
                "--values", "hidden", "-o", npy.toString())), "--values, --attention-mask and --token-type-ids apply to encoders");
        CliTesting.assertNothingWritten(npy);
        CliTesting.assertBadInput(run(with(common, "embed", bert, "--text", "a dog", "--pooling", "max")),
                "--pooling must be mean or cls, not 'max'");
        CliTesting.assertBadInput(run(with(common, "embed", bert, "--text", "a dog")), "no tokenizer found");
        CliTesting.assertBadInput(run(with(common, "validate", "--reference", bert, "--candidate", bert, "--ids", "101,102",
                "--min-cosine", "1.5")), "--min-cosine must be in [-1, 1], not 1.5");
    }

    private static String[] with(List<String> common, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(common);
        return all.toArray(String[]::new);
    }

    @Test
    void decoderCommandsRefuseAnEncoderInOneLine() {
        CliTesting.Run g = run("generate", TestModels.dir("tiny-bert").toString(), "--ids", "101,102", "--device", "cpu",
                "--cache-dir", cache.toString());
        assertEquals(ExitCode.BAD_INPUT, g.exit(), g::toString);
        assertTrue(g.err().contains("describes an encoder (bert), which does not generate; use embed or forward"), g.err());
        CliTesting.Run e = run("embed", TestModels.dir("tiny-aricate").toString(), "--text", "hi", "--device", "cpu");
        assertEquals(ExitCode.BAD_INPUT, e.exit(), e::toString);
        assertEquals(1, e.err().strip().lines().count(), e.err());
    }

    /** A run that must succeed; stderr holds the device and timing lines. */
    private static CliTesting.Run succeeds(String... args) {
        CliTesting.Run r = run(args);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r;
    }

    /** A WordPiece tokenizer.json numbered as tiny-bert's vocabulary ([CLS] 101, [SEP] 102, words from 104). */
    static Path wordPieceTokenizer(Path file) throws IOException {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode vocab = Json.MAPPER.createObjectNode();
        for (int i = 0; i < 100; i++) {
            vocab.put(i == 0 ? "[PAD]" : "[unused" + i + "]", i);
        }
        String[] words = {"[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", ".", "a", "dog", "##s"};
        for (int i = 0; i < words.length; i++) {
            vocab.put(words[i], 100 + i);
        }
        ArrayNode added = root.putArray("added_tokens");
        for (String s : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) {
            added.addObject().put("id", vocab.get(s).asInt()).put("content", s).put("special", true);
        }
        root.putObject("normalizer").put("type", "BertNormalizer").put("lowercase", true).put("clean_text", true)
                .put("handle_chinese_chars", true).putNull("strip_accents");
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        ObjectNode post = root.putObject("post_processor").put("type", "BertProcessing");
        post.putArray("sep").add("[SEP]").add(102);
        post.putArray("cls").add("[CLS]").add(101);
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
        ObjectNode model = root.putObject("model").put("type", "WordPiece").put("unk_token", "[UNK]")
                .put("continuing_subword_prefix", "##").put("max_input_chars_per_word", 100);
        model.set("vocab", vocab);
        Files.writeString(file, Json.MAPPER.writeValueAsString(root));
        return file;
    }

    private static String list(JsonNode a) {
        List<String> v = new ArrayList<>();
        a.forEach(x -> v.add(x.asText()));
        return v.stream().collect(Collectors.joining(","));
    }

    private static float[][] rows(Path f32, int width) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f32)).order(ByteOrder.LITTLE_ENDIAN);
        float[][] out = new float[b.remaining() / 4 / width][width];
        for (float[] r : out) {
            for (int j = 0; j < width; j++) {
                r[j] = b.getFloat();
            }
        }
        return out;
    }
}
