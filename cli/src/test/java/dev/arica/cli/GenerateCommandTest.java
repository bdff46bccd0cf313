package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arica generate} on stories260K against the reference C implementation's greedy outputs, and its refusals. */
class GenerateCommandTest {

    @TempDir
    static Path tmp;

    /** The on-the-fly export cache of these tests (never the user's). */
    static Path cache;
    /** stories260K exported by export-onnx, and converted to an HF directory. */
    static Path exported;
    static Path hf;

    /** One line of reference/greedy.jsonl. */
    record Reference(String prompt, JsonNode promptIds, JsonNode ids, String text) {}

    static List<Reference> references;

    @BeforeAll
    static void setUp() throws IOException {
        // ORT's native libraries unpacked under target/, not the user's cache.
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        cache = tmp.resolve("cache");
        Path dir = Stories260K.dir();
        exported = tmp.resolve("exported");
        ok("export-onnx", dir.resolve("stories260K.bin").toString(), "-o", exported.toString());
        hf = tmp.resolve("hf");
        ok("convert", dir.resolve("stories260K.bin").toString(), "-o", hf.toString());
        references = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("reference/greedy.jsonl"))) {
            if (!line.isBlank()) {
                JsonNode j = CliTesting.JSON.readTree(line);
                references.add(new Reference(j.get("prompt").textValue(), j.get("prompt_ids"), j.get("ids"), j.get("text").textValue()));
            }
        }
        assertEquals(4, references.size());
    }

    static Path bin() {
        return Stories260K.checkpoint();
    }

    /**
     * generate MODEL with the test cache, one thread (the build machine is shared) and the CPU unless
     * {@code args} name a device (the same ids on every machine), then {@code args}.
     */
    static CliTesting.Run generate(Path model, String... args) {
        List<String> all = new ArrayList<>(List.of("generate", model.toString(), "--cache-dir", cache.toString(), "--threads", "1"));
        if (!Arrays.asList(args).contains("--device")) {
            all.addAll(List.of("--device", "cpu"));
        }
        all.addAll(Arrays.asList(args));
        return run(all.toArray(String[]::new));
    }

    static CliTesting.Run generated(Path model, String... args) {
        CliTesting.Run r = generate(model, args);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r;
    }

    static List<String> errLines(CliTesting.Run r) {
        return r.err().lines().toList();
    }

    /**
     * Every reference line, greedy, as the reference ran it: 256 positions, so at most 257 ids with BOS.
     * --max-new-tokens counts new tokens only, hence 257 minus the prompt's ids.
     */
    static void reproducesTheReference(Path model, String... extra) {
        for (Reference ref : references) {
            int budget = 257 - ref.promptIds().size();
            CliTesting.Run r = generated(model, concat(List.of(extra), "--prompt", ref.prompt(), "--temperature", "0",
                    "--max-new-tokens", Integer.toString(budget), "--json"));
            JsonNode j = r.json();
            assertEquals(ref.promptIds(), j.get("prompt_ids"), () -> "prompt ids of '" + ref.prompt() + "'\n" + r);
            assertEquals(ref.ids(), j.get("ids"), () -> "ids after '" + ref.prompt() + "'\n" + r);
            assertEquals(ref.text(), ref.prompt() + j.get("text").textValue(), () -> "text after '" + ref.prompt() + "'");
            boolean early = ref.ids().size() < 257;
            assertEquals(early ? "eos" : "max_new_tokens", j.get("stop").asText());
            assertEquals(ref.ids().size() - ref.promptIds().size(), j.get("generated_tokens").asInt());
            assertEquals("cpu", j.get("device").asText());
            assertTrue(j.get("tokens_per_second").asDouble() > 0, r::toString);
            assertTrue(j.get("prompt_tokens_per_second").asDouble() > 0, r::toString);
            assertTrue(j.get("seed").isNull(), "greedy: no seed");
            List<String> err = errLines(r);
            assertTrue(err.stream().anyMatch(l -> l.startsWith("arica: device cpu")), r::toString);
            assertTrue(err.getLast().matches("arica: prompt \\d+ tokens at [\\d.]+ tok/s, generated \\d+ tokens at [\\d.]+ tok/s, .*"),
                    r::toString);
        }
    }

    @Test
    void aLlama2cCheckpointReproducesTheGreedyReference() {
        // On the CPU the on-the-fly export is ORT's fused graph (--graph auto).
        reproducesTheReference(bin());
    }

    @Test
    void theStandardGraphReproducesTheGreedyReferenceToo() {
        reproducesTheReference(bin(), "--graph", "standard");
        assertBadInput(generate(bin(), "--prompt", "Hi", "--graph", "fast"), "--graph", "ort-optimized");
    }

    @Test
    void theExportedDirectoryReproducesTheGreedyReference() {
        reproducesTheReference(exported);
        // Its model.onnx names the directory too.
        JsonNode j = generated(exported.resolve("model.onnx"), "--prompt", "Once upon a time", "--max-new-tokens", "3", "--json")
                .json();
        assertEquals(references.getFirst().ids().get(7), j.get("ids").get(7));
    }

    @Test
    void anHfDirectoryConvertedFromItReproducesTheGreedyReference() {
        reproducesTheReference(hf);
    }

    @Test
    void textIsStreamedToStdoutAndSpeedToStderr() {
        Reference ref = references.getFirst();
        CliTesting.Run r = generated(exported, "--prompt", ref.prompt(), "--max-new-tokens", Integer.toString(257 - ref.promptIds().size()));
        assertEquals(ref.text().substring(ref.prompt().length()) + "\n", r.out(), "the continuation, then a newline");
        List<String> err = errLines(r);
        assertEquals(List.of("arica: device cpu"), err.subList(0, 1), r::toString);
        assertEquals(2, err.size(), r::toString);
        assertTrue(err.get(1).endsWith("stopped at --max-new-tokens"), r::toString);
    }

    @Test
    void autoTakesCudaWhenUsableAndOtherwiseSaysWhyNot() {
        CliTesting.Run r = generated(exported, "--prompt", "Lily", "--max-new-tokens", "3", "--device", "auto", "--json");
        String device = errLines(r).getFirst();
        assertTrue(device.equals("arica: device cuda") || device.matches("arica: device cpu \\(CUDA: .+\\)"), r::toString);
        assertEquals(device.equals("arica: device cuda") ? "cuda" : "cpu", r.json().get("device").asText());
    }

    @Test
    void theExportIsCachedByContent() throws IOException {
        Path own = tmp.resolve("own-cache");
        Path copy = Files.createDirectories(tmp.resolve("copy"));
        Files.copy(bin(), copy.resolve("model.bin"));
        Files.copy(Stories260K.tokenizer(), copy.resolve("tok512.bin"));
        String[] args = {"--prompt", "Lily", "--max-new-tokens", "4", "--json"};
        CliTesting.Run first = run(concat(List.of("generate", bin().toString(), "--cache-dir", own.toString()), args));
        assertEquals(ExitCode.OK, first.exit(), first::toString);
        assertTrue(first.err().startsWith("arica: exported " + bin() + " to ONNX in "), first::toString);
        List<String> entries = names(own.resolve("onnx"));
        assertEquals(1, entries.size(), entries::toString);
        assertTrue(first.err().contains("cached in " + own.resolve("onnx").resolve(entries.getFirst())), first::toString);
        // The same content under another name: no export, same answer.
        CliTesting.Run second = run(concat(List.of("generate", copy.resolve("model.bin").toString(), "--cache-dir", own.toString()), args));
        assertEquals(ExitCode.OK, second.exit(), second::toString);
        assertFalse(second.err().contains("exported"), second::toString);
        assertEquals(first.json().get("ids"), second.json().get("ids"));
        assertEquals(entries, names(own.resolve("onnx")));
        // The same tokenizer bytes named by --tokenizer: the same key; other bytes (one score changed): another.
        Path tok = Files.copy(Stories260K.tokenizer(), tmp.resolve("same-tok.bin"));
        CliTesting.Run third = run(concat(List.of("generate", bin().toString(), "--cache-dir", own.toString(), "--tokenizer",
                tok.toString()), args));
        assertEquals(ExitCode.OK, third.exit(), third::toString);
        assertEquals(entries, names(own.resolve("onnx")), "the same bytes: the same key");
        byte[] other = Files.readAllBytes(tok);
        other[4] ^= 1;
        Files.write(tmp.resolve("other-tok.bin"), other);
        CliTesting.Run fourth = run(concat(List.of("generate", bin().toString(), "--cache-dir", own.toString(), "--tokenizer",
                tmp.resolve("other-tok.bin").toString()), args));
        assertEquals(ExitCode.OK, fourth.exit(), fourth::toString);
        assertTrue(fourth.err().startsWith("arica: exported "), fourth::toString);
        assertEquals(2, names(own.resolve("onnx")).size(), "another tokenizer: another export");
        // --no-cache exports to a temporary directory and leaves nothing in the cache.
        CliTesting.Run fifth = run(concat(List.of("generate", bin().toString(), "--no-cache"), args));
        assertEquals(ExitCode.OK, fifth.exit(), fifth::toString);
        assertTrue(fifth.err().contains("temporary, --no-cache"), fifth::toString);
        assertEquals(first.json().get("ids"), fifth.json().get("ids"));
        assertBadInput(run(concat(List.of("generate", bin().toString(), "--no-cache", "--cache-dir", own.toString()), args)),
                "--no-cache", "--cache-dir");
    }

    static String[] concat(List<String> head, String... tail) {
        return Stream.concat(head.stream(), Arrays.stream(tail)).toArray(String[]::new);
    }

    @Test
    void theSameSeedGivesTheSameTokensAndAnotherSeedOthers() {
        String[] common = {"--prompt", "Once upon a time", "--temperature", "1.0", "--top-p", "0.9", "--max-new-tokens", "64", "--json"};
        JsonNode a = generated(exported, concat(List.of(common), "--seed", "42")).json();
        JsonNode b = generated(exported, concat(List.of(common), "--seed", "42")).json();
        JsonNode c = generated(exported, concat(List.of(common), "--seed", "43")).json();
        assertEquals(a.get("ids"), b.get("ids"));
        assertEquals(a.get("text"), b.get("text"));
        assertEquals(42, a.get("seed").asLong());
        assertNotEquals(a.get("ids"), c.get("ids"));
        assertNotEquals(references.getFirst().ids(), a.get("ids"), "sampling, not greedy");
        JsonNode k = generated(exported, "--prompt", "Once upon a time", "--temperature", "0.8", "--top-k", "1",
                "--max-new-tokens", "20", "--json").json();
        for (int i = 0; i < k.get("ids").size(); i++) {
            assertEquals(references.getFirst().ids().get(i), k.get("ids").get(i), "top-k 1 is greedy");
        }
        CliTesting.Run random = generated(exported, "--prompt", "Tim", "--temperature", "0.8", "--max-new-tokens", "4");
        assertTrue(Pattern.compile("; seed -?\\d+$").matcher(errLines(random).getLast()).find(), random::toString);
    }

    @Test
    void maxNewTokensIsCappedByTheContext() {
        // 494 prompt tokens: greedy decoding fills the 512 positions before any end of story.
        JsonNode j = generated(exported, "--prompt", "Lily and Tom went to the park. ".repeat(41), "--max-new-tokens",
                "100000", "--json").json();
        assertEquals(494, j.get("prompt_ids").size());
        assertEquals("context_full", j.get("stop").asText());
        assertEquals(512, j.get("ids").size());
        JsonNode none = generated(exported, "--prompt", "Lily", "--max-new-tokens", "0", "--json").json();
        assertEquals(none.get("prompt_ids"), none.get("ids"));
        assertEquals("", none.get("text").asText());
    }

    static String list(JsonNode ids, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(ids.get(i).asText());
        }
        return String.join(",", out);
    }

    /** --ids are fed as they are: the reference's prompt ids give the reference's continuation, text included. */
    @Test
    void idsInsteadOfAPromptReproduceTheGreedyReference() {
        for (Reference ref : references) {
            int budget = 257 - ref.promptIds().size();
            JsonNode j = generated(bin(), "--ids", list(ref.promptIds(), ref.promptIds().size()), "--max-new-tokens",
                    Integer.toString(budget), "--json").json();
            assertEquals(ref.ids(), j.get("ids"), ref::prompt);
            assertEquals(ref.promptIds(), j.get("prompt_ids"));
            assertTrue(j.get("prompt").isNull(), "no text prompt");
            assertEquals(ref.text(), ref.prompt() + j.get("text").textValue(), "the model's tokenizer still gives the text");
        }
        // No BOS is added: without it the model continues otherwise.
        Reference first = references.getFirst();
        JsonNode noBos = generated(exported, "--ids", list(first.promptIds(), first.promptIds().size()).substring(2),
                "--max-new-tokens", "8", "--json").json();
        assertEquals(first.promptIds().size() - 1, noBos.get("prompt_ids").size());
        assertEquals(first.promptIds().get(1), noBos.get("ids").get(0));
    }

    /** A checkpoint or an export without any tokenizer generates from ids, and prints ids: comma-separated, as --ids reads them. */
    @Test
    void withoutATokenizerIdsAreGeneratedAndPrinted() throws IOException {
        Path alone = Files.createDirectories(tmp.resolve("ids-only"));
        Path model = Files.copy(bin(), alone.resolve("stories260K.bin"));
        Path noTok = copyOfExported("ids-only-export");
        Files.delete(noTok.resolve("tokenizer.llama2c.bin"));
        Reference ref = references.getFirst();
        int n = ref.promptIds().size();
        String prompt = list(ref.promptIds(), n);
        for (Path m : List.of(model, noTok)) {
            CliTesting.Run streamed = generated(m, "--ids", prompt, "--max-new-tokens", "20");
            assertEquals(list(ref.ids(), n + 20).substring(prompt.length() + 1) + "\n", streamed.out(), streamed::toString);
            JsonNode j = generated(m, "--ids", prompt, "--max-new-tokens", "20", "--json").json();
            assertEquals(list(ref.ids(), n + 20), list(j.get("ids"), j.get("ids").size()));
            assertTrue(j.get("text").isNull(), j::toString);
            assertTrue(j.get("prompt").isNull(), j::toString);
            assertEquals(20, j.get("generated_tokens").asInt());
        }
        // Text still needs a tokenizer.
        assertBadInput(generate(noTok, "--prompt", "Hi"), "tokenizer.llama2c.bin", "--tokenizer");
    }

    @Test
    void badIds() {
        assertBadInput(generate(exported, "--ids", "1,403,x"), "--ids", "'x'", "not a token id");
        assertBadInput(generate(exported, "--ids", "1,-403"), "--ids", "-403", "negative");
        assertBadInput(generate(exported, "--ids", "1,512"), "--ids", "512", "vocabulary of 512");
        assertBadInput(generate(exported, "--ids", " "), "--ids", "empty");
        assertBadInput(generate(exported, "--ids", "1,2,"), "--ids", "item 3");
        assertBadInput(generate(exported, "--ids", "99999999999"), "--ids", "99999999999");
        assertBadInput(generate(exported, "--ids", "1,".repeat(512) + "1"), "513 ids", "context of 512");
        assertBadInput(generate(exported, "--ids", "1", "--prompt", "Hi"), "--ids", "--prompt", "mutually exclusive");
    }

    // ---- refusals: one line, exit 2 ----

    @Test
    void aPromptLongerThanTheContext() {
        String prompt = "Lily and Tom went to the park. ".repeat(60);
        assertBadInput(generate(exported, "--prompt", prompt), "prompt", "context of 512");
    }

    @Test
    void anUnknownArchitecture() throws IOException {
        Path gpt = tmp.resolve("bloom");
        Files.createDirectories(gpt);
        for (String n : names(hf)) {
            Files.copy(hf.resolve(n), gpt.resolve(n));
        }
        Path cfg = gpt.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"llama\"", "\"bloom\""));
        assertBadInput(generate(gpt, "--prompt", "Hi"), cfg.toString(), "bloom", "supported: llama, mistral, gemma2, gpt2, falcon");
    }

    @Test
    void aMissingTokenizer() throws IOException {
        Path alone = Files.createDirectories(tmp.resolve("alone"));
        Path model = Files.copy(bin(), alone.resolve("stories260K.bin"));
        assertBadInput(generate(model, "--prompt", "Hi"), model.toString(), "tok512.bin", "--tokenizer");
        CliTesting.Run r = generated(model, "--prompt", "Once upon a time", "--tokenizer",
                Stories260K.tokenizer().toString(), "--max-new-tokens", "5", "--json");
        assertEquals(references.getFirst().ids().get(9), r.json().get("ids").get(9));

        Path noTok = copyOfExported("no-tokenizer");
        Files.delete(noTok.resolve("tokenizer.llama2c.bin"));
        assertBadInput(generate(noTok, "--prompt", "Hi"), "tokenizer.llama2c.bin");
    }

    @Test
    void aCorruptOnnxFile() throws IOException {
        Path bad = copyOfExported("corrupt");
        byte[] model = Files.readAllBytes(bad.resolve("model.onnx"));
        Files.write(bad.resolve("model.onnx"), Arrays.copyOf(model, model.length / 3));
        assertBadInput(generate(bad, "--prompt", "Hi"), bad.resolve("model.onnx").toString());
        Files.write(bad.resolve("model.onnx"), "not a model".getBytes());
        assertBadInput(generate(bad, "--prompt", "Hi"), bad.resolve("model.onnx").toString());
    }

    @Test
    void cudaWhereThereIsNone() {
        CliTesting.Run r = generate(exported, "--prompt", "Hi", "--device", "cuda");
        if (r.exit() == ExitCode.OK) {
            assertTrue(r.err().startsWith("arica: device cuda"), r::toString);
            return;
        }
        assertBadInput(r, "CUDA");
    }

    @Test
    void badSamplingValues() {
        assertBadInput(generate(exported, "--prompt", "Hi", "--top-p", "0"), "--top-p", "(0, 1]");
        assertBadInput(generate(exported, "--prompt", "Hi", "--top-p", "1.5"), "--top-p");
        assertBadInput(generate(exported, "--prompt", "Hi", "--top-p", "NaN"), "--top-p");
        assertBadInput(generate(exported, "--prompt", "Hi", "--temperature", "-0.5"), "--temperature");
        assertBadInput(generate(exported, "--prompt", "Hi", "--temperature", "Infinity"), "--temperature");
        assertBadInput(generate(exported, "--prompt", "Hi", "--top-k", "-1"), "--top-k");
        assertBadInput(generate(exported, "--prompt", "Hi", "--max-new-tokens", "-1"), "--max-new-tokens");
        assertBadInput(generate(exported, "--prompt", "Hi", "--threads", "0"), "--threads");
        assertBadInput(generate(exported, "--prompt", "Hi", "--device", "tpu"), "--device");
        assertBadInput(run("generate", exported.toString()), "--prompt");
    }

    @Test
    void otherInputs() throws IOException {
        Path nowhere = tmp.resolve("nowhere.bin");
        assertBadInput(generate(nowhere, "--prompt", "Hi"), nowhere.toString());
        Path lone = Files.writeString(tmp.resolve("lone.onnx"), "x");
        assertBadInput(generate(lone, "--prompt", "Hi"), lone.toString(), "arica-genai.json");
    }

    /**
     * A q8_0 .arica file runs as stored: exported on the fly (MatMulNBits) into the cache, once; computing in
     * float32 (--accuracy-level 0) it gives the ids of the portable export (DequantizeLinear + MatMul), and by
     * default (int8 activations, as llama.cpp) the first tokens of the float model.
     */
    @Test
    void aQuantizedAricaFileRunsThroughMatMulNBitsAndPortablyWithTheSameIds() throws IOException {
        Path arica = tmp.resolve("stories-q8_0.arica");
        CliTesting.Run q = run("quantize", bin().toString(), "-o", arica.toString(), "--scheme", "q8_0", "--no-digest-cache");
        assertEquals(ExitCode.OK, q.exit(), q::toString);
        Path portable = tmp.resolve("stories-q8_0-portable");
        CliTesting.Run e = run("export-onnx", arica.toString(), "-o", portable.toString(), "--portable");
        assertEquals(ExitCode.OK, e.exit(), e::toString);
        assertTrue(e.out().contains("quantized: q8_0 x 35 (DequantizeLinear + MatMul)"), e::toString);
        for (Reference ref : references) {
            String budget = Integer.toString(257 - ref.promptIds().size());
            CliTesting.Run a = generated(arica, "--prompt", ref.prompt(), "--max-new-tokens", budget, "--json",
                    "--accuracy-level", "0");
            CliTesting.Run b = generated(portable, "--prompt", ref.prompt(), "--max-new-tokens", budget, "--json");
            assertEquals(ref.promptIds(), a.json().get("prompt_ids"));
            assertEquals(a.json().get("ids"), b.json().get("ids"), () -> "'" + ref.prompt() + "'\n" + a + "\n" + b);
            CliTesting.Run fast = generated(arica, "--prompt", ref.prompt(), "--max-new-tokens", "8", "--json");
            // q8_0 keeps the float model's first tokens (the stories drift apart later).
            int n = ref.promptIds().size() + 8;
            assertEquals(firstIds(ref.ids(), n), firstIds(fast.json().get("ids"), n), ref::prompt);
        }
        long exports = countExportLines(generated(arica, "--prompt", "Hi", "--max-new-tokens", "2"));
        assertEquals(0, exports, "the second run finds the export in the cache");
        CliTesting.Run bad = run("export-onnx", arica.toString(), "-o", tmp.resolve("x").toString(), "--accuracy-level", "2");
        assertBadInput(bad, "--accuracy-level");
    }

    /** A flipped byte inside one tensor's blob is named, not computed with: by generate, export-onnx and convert. */
    @Test
    void aCorruptBlobInAnAricaFileIsNamed() throws IOException {
        Path arica = tmp.resolve("corrupt.arica");
        CliTesting.Run q = run("quantize", bin().toString(), "-o", arica.toString(), "--scheme", "q4_0", "--no-digest-cache");
        assertEquals(ExitCode.OK, q.exit(), q::toString);
        String victim = "model.layers.3.mlp.up_proj.weight";
        long at;
        try (dev.arica.formats.arica.AricaFile f = dev.arica.formats.arica.AricaFile.open(arica)) {
            at = f.entry(victim).orElseThrow().offset() + 100;
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(arica,
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            ch.read(b, at);
            b.flip();
            b.put(0, (byte) (b.get(0) ^ 0x5a));
            ch.write(b, at);
        }
        assertBadInput(generate(arica, "--prompt", "Hi"), arica.toString(), victim, "checksum mismatch");
        assertBadInput(run("export-onnx", arica.toString(), "-o", tmp.resolve("corrupt-onnx").toString()), victim,
                "checksum mismatch");
        assertFalse(Files.exists(tmp.resolve("corrupt-onnx")), "no output left behind");
        assertBadInput(run("convert", arica.toString(), "-o", tmp.resolve("corrupt-hf").toString()), victim,
                "checksum mismatch");
    }

    private static String firstIds(JsonNode ids, int n) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(ids.get(i).asInt());
        }
        return out.toString();
    }

    private static long countExportLines(CliTesting.Run r) {
        return errLines(r).stream().filter(l -> l.startsWith("arica: exported")).count();
    }

    @Test
    void helpDocumentsTheOptions() {
        String out = ok("generate", "--help").out();
        for (String option : List.of("MODEL", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed",
                "--device", "--threads", "--json", "--tokenizer", "--cache-dir", "--no-cache")) {
            assertTrue(out.contains(option), () -> "mentions " + option + "\n" + out);
        }
        assertTrue(Pattern.compile("(?m)^\\s+generate\\s").matcher(ok("--help").out()).find(), "listed in arica --help");
        assertEquals(ok("--version").out(), ok("generate", "--version").out());
    }

    static Path copyOfExported(String name) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        for (String n : names(exported)) {
            Files.copy(exported.resolve(n), dir.resolve(n));
        }
        return dir;
    }
}
