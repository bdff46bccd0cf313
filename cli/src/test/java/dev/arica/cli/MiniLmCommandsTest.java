package dev.arica.cli;

import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.encode.OnnxEncoder;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2, a real sentence encoder exported to ONNX elsewhere (langchain4j's jar on Maven Central, test scope),
 * with its tokenizer.json: arica's WordPiece ids for sentences checked by hand, {@code embed} equal to the mean pooling
 * and L2 normalisation of the model's last_hidden_state computed here, and arica's int8 version through the release
 * gate {@code validate --min-cosine 0.99}.
 */
class MiniLmCommandsTest {
    static final List<String> SENTENCES = List.of("A man is eating food.", "A man is eating a piece of bread.",
            "The girl is carrying a baby.", "A man is riding a horse.", "A woman is playing violin.",
            "Two men pushed carts through the woods.", "A man is riding a white horse on an enclosed ground.",
            "A monkey is playing drums.", "Someone in a gorilla costume is playing a set of drums.");

    @TempDir
    static Path tmp;

    static Path model;
    static Path tokenizer;

    @BeforeAll
    static void setUp() throws IOException {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        Path dir = Files.createDirectories(tmp.resolve("all-minilm-l6-v2"));
        model = dir.resolve("model.onnx");
        try (InputStream in = MiniLmCommandsTest.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2.onnx")) {
            assertTrue(in != null, "the langchain4j jar's model is on the test classpath");
            Files.copy(in, model);
        }
        tokenizer = Files.copy(TestModels.dir("tokenizers/all-minilm-l6-v2").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
    }

    @Test
    void wordPieceIdsAreTheVocabularysGreedyLongestMatches() throws IOException {
        JsonNode vocab = Json.readObjectFile(tokenizer).get("model").get("vocab");
        JsonNode t = ok("tokenize", "--tokenizer", tokenizer.toString(), "--text", "Hello world! The cat sat on the mat.", "--json");
        // bert-base-uncased's ids, lower-cased, split at spaces and punctuation, [CLS] 101 ... [SEP] 102.
        assertEquals("[101,7592,2088,999,1996,4937,2938,2006,1996,13523,1012,102]", t.get("ids").toString());
        JsonNode u = ok("tokenize", "--tokenizer", tokenizer.toString(), "--text", "unaffable Héllo", "--json");
        assertEquals("[\"[CLS]\",\"una\",\"##ffa\",\"##ble\",\"hello\",\"[SEP]\"]", u.get("tokens").toString());
        // By hand: "una" is the longest prefix of "unaffable" in the vocabulary, "##ffa" of the rest, and the accent is stripped.
        for (String longer : List.of("unaffable", "unaffabl", "unaffab", "unaffa", "unaff", "unaf", "##ffable", "##ffabl", "##ffab")) {
            assertFalse(vocab.has(longer), longer + " would be a longer match");
        }
        assertEquals(vocab.get("una").asInt(), u.get("ids").get(1).asInt());
        assertEquals(vocab.get("##ffa").asInt(), u.get("ids").get(2).asInt());
    }

    @Test
    void embedIsMeanPoolingThenUnitLengthOfTheLastHiddenState() throws IOException {
        try (OnnxEncoder e = OnnxEncoder.open(model, new InferenceSession.Options(Device.CPU, 1, 0))) {
            for (String s : SENTENCES.subList(0, 3)) {
                JsonNode ids = ok("tokenize", "--tokenizer", tokenizer.toString(), "--text", s, "--json").get("ids");
                long[] v = new long[ids.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = ids.get(i).asLong();
                }
                float[][] hidden = e.hidden(v, null, null);
                double[] mean = new double[hidden[0].length];
                for (float[] row : hidden) {
                    for (int j = 0; j < mean.length; j++) {
                        mean[j] += row[j] / (double) hidden.length;
                    }
                }
                double norm = Math.sqrt(java.util.Arrays.stream(mean).map(x -> x * x).sum());
                JsonNode got = ok("embed", model.toString(), "--text", s, "--normalize", "--json", "--device", "cpu", "--threads", "1");
                assertEquals(384, got.get("embedding").size());
                assertEquals(v.length, got.get("tokens").asInt());
                for (int j = 0; j < mean.length; j++) {
                    assertEquals(mean[j] / norm, got.get("embedding").get(j).asDouble(), 1e-6, s + ", dimension " + j);
                }
            }
        }
    }

    @Test
    void aricasInt8VersionPassesTheCosineGate() throws IOException {
        Path int8 = tmp.resolve("minilm-int8.onnx");
        CliTesting.Run q = run("quantize", model.toString(), "-o", int8.toString(), "--scheme", "int8");
        assertEquals(ExitCode.OK, q.exit(), q::toString);
        Files.copy(tokenizer, tmp.resolve("tokenizer.json"));
        Path prompts = Files.writeString(tmp.resolve("sentences.txt"), String.join("\n", SENTENCES) + "\n");
        CliTesting.Run v = run("validate", "--reference", model.toString(), "--candidate", int8.toString(), "--prompts",
                prompts.toString(), "--min-cosine", "0.99", "--device", "cpu", "--threads", "1", "--json", "-");
        assertEquals(ExitCode.OK, v.exit(), v::toString);
        JsonNode j = v.json();
        assertEquals(SENTENCES.size(), j.get("texts").asInt());
        // Measured: min 0.9985, mean 0.9991 (MatMulNBits int8 groups of 128).
        assertTrue(j.get("min_cosine").asDouble() >= 0.99, j::toString);
        assertTrue(j.get("masked_lm").isNull(), "a sentence encoder has no head");
    }

    private static JsonNode ok(String... args) {
        CliTesting.Run r = run(args);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r.json();
    }
}
