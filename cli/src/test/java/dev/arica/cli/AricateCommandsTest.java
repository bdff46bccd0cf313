package dev.arica.cli;

import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Aricate (the trained tiny-aricate: GRU + additive attention) through the command line: read, quantize to a q8_0
 * .arica, export, forward, generate and the validate gate. forward's logits within 1e-4 of the reference, greedy
 * answers id for id up to and including the {@code <eos>} that stops them, and the q8_0 file passing the release gate
 * (0.98 / 0.001) against the float model.
 */
class AricateCommandsTest {
    static final ReferenceModel REF = new ReferenceModel("tiny-aricate");

    @TempDir
    static Path tmp;

    static Path cache;
    static ReferenceRuns runs;
    static Path q8;

    @BeforeAll
    static void setUp() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        cache = tmp.resolve("cache");
        runs = new ReferenceRuns(tmp, cache);
        q8 = tmp.resolve("aricate-q8_0.arica");
        ok("quantize", REF.dir().toString(), "-o", q8.toString(), "--scheme", "q8_0", "--no-digest-cache");
    }

    @Test
    void forwardAndGenerateReproduceTheReference() throws IOException {
        double worst = runs.forwardError(REF, REF.dir(), "standard");
        assertTrue(worst <= 1e-4, "forward differs from the reference by " + worst);
        // The reference stops at <eos>; generate is given room for more and must stop there too.
        JsonNode j = runs.run("generate", REF.dir(), "--ids", ReferenceRuns.list(REF.promptIds()), "--max-new-tokens", "24",
                "--json").json();
        assertArrayEquals(REF.greedyIds(), withStop(j));
    }

    @Test
    void theQuantizedFileKeepsTheVocabularyAndTheAnswers() throws IOException {
        JsonNode inspect = ok("inspect", q8.toString(), "--json").json();
        assertEquals("aricate", inspect.path("family").path("id").asText(), inspect::toString);
        assertTrue(inspect.toString().contains("vocab.json"), "the word vocabulary travels inside the .arica file");
        int quantized = 0;
        for (JsonNode t : inspect.path("tensors")) {
            String name = t.path("name").asText();
            boolean q = !t.path("scheme").asText().equals("F32");
            if (name.startsWith("gru.weight_") || name.startsWith("attention.query") || name.startsWith("attention.key")) {
                assertTrue(q, name + " is a projection: quantized");
                quantized++;
            } else {
                assertTrue(!q, name + " stays float by default");
            }
        }
        assertEquals(6, quantized, "four GRU matrices and the attention's query and key");
        for (String line : Files.readAllLines(REF.dir().resolve("reference/qa.jsonl"))) {
            JsonNode qa = CliTesting.JSON.readTree(line);
            JsonNode j = runs.run("generate", q8, "--ids", ReferenceRuns.list(ids(qa.get("prompt_ids"))), "--max-new-tokens",
                    "24", "--json").json();
            assertArrayEquals(ids(qa.get("ids")), withStop(j), qa.get("question").asText());
        }
    }

    @Test
    void q8_0PassesTheReleaseGateAgainstTheFloatModel() throws IOException {
        List<String> args = new ArrayList<>(List.of("validate", "--reference", REF.dir().toString(), "--candidate",
                q8.toString(), "--min-agreement", "0.98", "--max-kl", "0.001", "--cache-dir", cache.toString(), "--device", "cpu",
                "--threads", "1", "--json", "-"));
        for (String line : Files.readAllLines(REF.dir().resolve("reference/qa.jsonl"))) {
            args.add("--ids");
            args.add(ReferenceRuns.list(ids(CliTesting.JSON.readTree(line).get("prompt_ids"))));
        }
        CliTesting.Run r = run(args.toArray(String[]::new));
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        double agreement = r.json().findValue("top1_agreement").doubleValue();
        double kl = r.json().findValue("mean_kl").doubleValue();
        assertTrue(agreement >= 0.98 && kl <= 0.001, "q8_0 agreement " + agreement + ", mean KL " + kl);
    }

    @Test
    void aQuestionEndingWithSepIsAnsweredInWordsFromTheEmbeddedVocabulary() throws IOException {
        JsonNode greedy = CliTesting.JSON.readTree(REF.dir().resolve("reference/greedy.json").toFile());
        for (Path model : List.of(REF.dir(), q8)) {
            JsonNode j = runs.run("generate", model, "--prompt", "What color is the ball? <sep>", "--json").json();
            assertEquals(greedy.get("text").asText(), j.get("text").asText(), model.toString());
            assertEquals("eos", j.get("stop").asText());
        }
        // The same tokenizer, by the tokenize command: '?' is punctuation, <sep> typed in the text is the special token.
        JsonNode t = ok("tokenize", REF.dir().toString(), "--text", "What color is the ball? <sep>", "--json").json();
        assertEquals("[25,26,27,28,77,6,2]", t.get("ids").toString());
    }

    @Test
    void upscaleRefusesARecurrentModelInOneLine() {
        CliTesting.Run r = run("upscale", REF.dir().toString(), "-o", tmp.resolve("up").toString(), "--drop", "1");
        assertEquals(ExitCode.BAD_INPUT, r.exit(), r::toString);
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("recurrent aricate model"), r.err());
    }

    /** generate's ids (the stop token excluded, as from the text) followed by its stop id, as the reference counts them. */
    private static long[] withStop(JsonNode generated) {
        assertEquals("eos", generated.get("stop").asText(), generated::toString);
        long[] ids = ids(generated.get("ids"));
        long[] all = java.util.Arrays.copyOf(ids, ids.length + 1);
        all[ids.length] = generated.get("stop_id").asLong();
        return all;
    }

    private static long[] ids(JsonNode a) {
        long[] v = new long[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asLong();
        }
        return v;
    }
}
