package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static dev.arica.cli.CliTesting.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.Stories260K;
import dev.arica.quantize.Quantizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code arica quantize}, and {@code convert} of its output back to safetensors, on the real stories260K. */
class QuantizeCommandTest {

    @TempDir
    Path tmp;

    private Path model() {
        return Stories260K.checkpoint();
    }

    private JsonNode quantize(Path out, String... extra) throws IOException {
        Path report = tmp.resolve(out.getFileName() + ".report.json");
        List<String> args = new ArrayList<>(List.of("quantize", model().toString(), "-o", out.toString(),
                "--report", report.toString(), "--no-digest-cache"));
        args.addAll(List.of(extra));
        CliTesting.Run r = run(args.toArray(String[]::new));
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        // Slow runs (zstd 19) report progress on stderr, and nothing else may appear there.
        assertTrue(r.err().lines().allMatch(l -> l.startsWith("quantize: ")), r::toString);
        assertTrue(r.out().contains("wrote " + out), r::toString);
        assertEquals(ExitCode.OK, run("verify", out.toString()).exit());
        return CliTesting.JSON.readTree(report.toFile());
    }

    /**
     * Each scheme on the real checkpoint: the layer projections quantized (35 of 47 tensors), the error of every
     * one of them in the range the scheme's bits give, and the size shrinking accordingly.
     */
    @ParameterizedTest
    @CsvSource({
        "q8_0, '', 35, 60, 3.0",
        "int8, --group-size=32, 35, 60, 3.0",
        "int8, --asymmetric --group-size=64, 35, 60, 3.0",
        "int8, '', 35, 60, 1.9",
        "q4_0, '', 16, 30, 5.0",
        "int4, '', 16, 30, 5.0",
        "int4, --asymmetric, 18, 32, 5.0",
    })
    void everySchemeOnStories260K(String scheme, String option, double minSnr, double maxSnr, double minRatio)
            throws IOException {
        Path out = tmp.resolve(scheme + ".arica");
        List<String> extra = new ArrayList<>(List.of("--scheme", scheme));
        if (!option.isEmpty()) {
            extra.addAll(List.of(option.split(" ")));
        }
        JsonNode r = quantize(out, extra.toArray(String[]::new));
        // int8 defaults to groups of 128: stories260K's 64-column rows are then padded to one whole group.
        int group = option.contains("--group-size=") ? Integer.parseInt(option.replaceAll(".*--group-size=(\\d+).*", "$1"))
                : scheme.equals("int8") ? 128 : 32;
        int quantized = 0;
        for (JsonNode t : r.get("tensors")) {
            String name = t.get("name").asText();
            boolean projection = name.matches("model\\.layers\\.\\d\\.(self_attn|mlp)\\.\\w+_proj\\.weight");
            assertEquals(projection, t.get("quantized").asBoolean(), name);
            if (projection) {
                quantized++;
                double snr = t.get("snr_db").asDouble();
                assertTrue(snr > minSnr && snr < maxSnr, () -> name + ": SNR " + snr + " dB outside (" + minSnr + ", "
                        + maxSnr + ")");
                assertTrue(t.get("rmse").asDouble() > 0 && t.get("max_abs_error").asDouble() >= t.get("rmse").asDouble(), name);
                double ratio = t.get("bytes_before").asDouble() / t.get("bytes_after").asDouble();
                long cols = t.get("shape").get(1).asLong();
                // Rows not a multiple of the group are padded to whole groups, so they shrink a little less.
                assertTrue(ratio > minRatio * (cols % group != 0 ? 0.7 : 1), () -> name + ": ratio " + ratio);
                assertEquals(cols % group != 0, t.get("padded").asBoolean(), name);
            } else {
                assertTrue(t.get("snr_db").isNull(), name);
                assertEquals(t.get("bytes_before").asLong(), t.get("bytes_after").asLong(), name + " is kept as it was");
            }
        }
        assertEquals(35, quantized);
        assertEquals(47, r.at("/totals/tensors").asInt());
        assertEquals(35, r.at("/totals/quantized").asInt());
        double min = r.at("/totals/min_snr_db").asDouble();
        assertTrue(min > minSnr, "min SNR " + min);
        long after = 0;
        for (JsonNode t : r.get("tensors")) {
            after += t.get("bytes_after").asLong();
        }
        assertEquals(after, r.at("/totals/bytes_after").asLong());
        assertEquals(Files.size(out), r.at("/totals/file_bytes").asLong());
    }

    /** The bar for q8_0: above 35 dB on every quantized tensor, and the file names what it holds. */
    @Test
    void q8_0ProvenanceAndInspect() throws IOException {
        Path out = tmp.resolve("m.arica");
        quantize(out, "--scheme", "q8_0", "--meta", "release=rc1", "--meta", "owner=ci");
        try (AricaFile f = AricaFile.open(out)) {
            JsonNode p = f.index().get("provenance");
            assertEquals("stories260K.bin", p.at("/sources/0/file").asText());
            assertEquals(sha256(model()), p.at("/sources/0/sha256").asText());
            assertEquals("b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696", p.at("/sources/0/sha256").asText());
            assertEquals("q8_0", p.at("/quantization/scheme").asText());
            assertTrue(p.get("command_line").asText().startsWith("arica quantize "), p::toString);
            assertEquals("rc1", f.index().at("/user/release").asText());
            assertEquals("ci", f.index().at("/user/owner").asText());
            assertEquals(List.of("tokenizer.llama2c.bin", "generation_config.json"),
                    f.files().stream().map(AricaFile.FileEntry::name).toList());
            assertEquals(64, f.config().orElseThrow().get("hidden_size").asInt());
        }
        JsonNode inspect = ok("inspect", out.toString(), "--json").json();
        for (JsonNode t : inspect.get("tensors")) {
            String name = t.get("name").asText();
            if (name.endsWith("down_proj.weight")) {
                assertEquals("q8_0", t.get("scheme").asText());
                assertEquals(32, t.get("group_size").asInt());
                assertEquals(192, t.get("padded_columns").asInt(), "172 columns padded to 6 groups of 32");
            }
            if (name.endsWith("norm.weight")) {
                assertEquals("F32", t.get("scheme").asText());
                assertTrue(t.get("group_size").isNull());
            }
        }
        String human = ok("inspect", out.toString()).out();
        assertTrue(human.contains("rows padded 172 -> 192"), human);
    }

    /**
     * Quantize, then convert back: every float tensor bit for bit as in the source, every quantized one equal to the
     * quantizer's own dequantization of the source, config and tokenizer restored beside them.
     */
    @ParameterizedTest
    @CsvSource({"q4_0, ''", "int4, --asymmetric", "q8_0, --compress"})
    void roundTripThroughConvert(String scheme, String option) throws IOException {
        Path out = tmp.resolve("m.arica");
        List<String> extra = new ArrayList<>(List.of("--scheme", scheme, "--quantize-embeddings"));
        if (!option.isEmpty()) {
            extra.add(option);
        }
        quantize(out, extra.toArray(String[]::new));
        Path back = tmp.resolve("back");
        ok("convert", out.toString(), "-o", back.toString());
        Path direct = tmp.resolve("direct");
        ok("convert", model().toString(), "-o", direct.toString());
        assertEquals(Files.readString(direct.resolve("config.json")), Files.readString(back.resolve("config.json")));
        assertArrayEquals(Files.readAllBytes(direct.resolve("tokenizer.llama2c.bin")),
                Files.readAllBytes(back.resolve("tokenizer.llama2c.bin")));
        assertArrayEquals(Files.readAllBytes(direct.resolve("generation_config.json")),
                Files.readAllBytes(back.resolve("generation_config.json")));
        QuantLayout layout = new QuantLayout(Scheme.parse(scheme).orElseThrow(), 32, option.equals("--asymmetric"));
        Quantizer q = Quantizer.of(layout);
        try (Checkpoint src = Checkpoint.open(model()); Checkpoint got = Checkpoint.open(back); Arena arena = Arena.ofConfined()) {
            assertEquals(names(src), names(got));
            for (TensorInfo t : src.tensors()) {
                byte[] original = bytes(src.tensor(t.name()));
                byte[] restored = bytes(got.tensor(t.name()));
                assertEquals(DType.F32, got.tensor(t.name()).info().dtype());
                if (t.shape().length == 1) {
                    assertArrayEquals(original, restored, t.name() + " is bit-exact");
                    continue;
                }
                long cols = t.shape()[1];
                long rows = t.shape()[0];
                MemorySegment x = MemorySegment.ofArray(original);
                MemorySegment packed = arena.allocate(layout.bytes(rows, cols));
                MemorySegment expect = arena.allocate(rows * cols * 4);
                q.quantize(x, rows, cols, packed);
                q.dequantize(packed, rows, cols, expect);
                assertArrayEquals(expect.toArray(ValueLayout.JAVA_BYTE), restored, t.name() + " is the dequantized source");
                assertFalse(java.util.Arrays.equals(original, restored), t.name() + " was quantized");
            }
        }
    }

    /** --keep, --quantize-embeddings and --float-type decide per tensor, and the report says why. */
    @Test
    void selectionAndFloatType() throws IOException {
        Path out = tmp.resolve("m.arica");
        JsonNode r = quantize(out, "--scheme", "q8_0", "--keep", "mlp\\.down", "--keep", "layers\\.4\\.",
                "--quantize-embeddings", "--float-type", "f16");
        Map<String, JsonNode> byName = new HashMap<>();
        r.get("tensors").forEach(t -> byName.put(t.get("name").asText(), t));
        assertEquals("q8_0", byName.get("model.embed_tokens.weight").get("storage").asText());
        assertEquals("embedding", byName.get("model.embed_tokens.weight").get("reason").asText());
        assertEquals("--keep mlp\\.down", byName.get("model.layers.0.mlp.down_proj.weight").get("reason").asText());
        assertEquals("F16", byName.get("model.layers.0.mlp.down_proj.weight").get("storage").asText());
        assertEquals("--keep layers\\.4\\.", byName.get("model.layers.4.self_attn.q_proj.weight").get("reason").asText());
        assertEquals("F16", byName.get("model.norm.weight").get("storage").asText());
        assertEquals("1-D", byName.get("model.norm.weight").get("reason").asText());
        assertEquals(1 + 4 * 6, r.at("/totals/quantized").asInt(), "embedding + layers 0..3 without down_proj");
        Path back = tmp.resolve("back.safetensors");
        ok("convert", out.toString(), "-o", back.toString(), "--dtype", "f32");
        try (Checkpoint src = Checkpoint.open(model()); Checkpoint got = Checkpoint.open(back)) {
            // A norm went f32 -> f16 -> f32: it equals the source rounded to f16.
            byte[] norm = bytes(src.tensor("model.norm.weight"));
            byte[] restored = bytes(got.tensor("model.norm.weight"));
            for (int i = 0; i < norm.length; i += 4) {
                float x = MemorySegment.ofArray(norm).get(FloatCast.F32_LE, i);
                float y = MemorySegment.ofArray(restored).get(FloatCast.F32_LE, i);
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(x)), y, 0f);
            }
        }
    }

    /**
     * --tensor-scheme: the first matching rule sets a tensor's layout (its own group when given, else --scheme's int
     * groups, else the scheme's default), the rest take --scheme; the rules are recorded in the report and the provenance; the mixed file verifies, runs
     * and is closer to the f32 model than the file without the rules.
     */
    @Test
    void perTensorSchemes() throws IOException {
        Path out = tmp.resolve("mixed.arica");
        JsonNode r = quantize(out, "--scheme", "int4", "--asymmetric", "--group-size", "64", "--tensor-scheme",
                "k_proj=int8", "--tensor-scheme", "(k|v)_proj=q8_0", "--tensor-scheme", "layers\\.4\\.mlp=int4:16");
        assertEquals(List.of("k_proj=int8 g64 asym", "(k|v)_proj=q8_0", "layers\\.4\\.mlp=int4 g16 asym"),
                CliTesting.JSON.convertValue(r.get("tensor_schemes"), List.class));
        int counted = 0;
        for (JsonNode t : r.get("tensors")) {
            if (!t.get("quantized").asBoolean()) {
                continue;
            }
            String name = t.get("name").asText();
            String expected = name.contains("k_proj") ? "int8 g64 asym" : name.contains("v_proj") ? "q8_0"
                    : name.contains("layers.4.mlp") ? "int4 g16 asym" : "int4 g64 asym";
            assertEquals(expected, t.get("storage").asText(), name);
            double snr = t.get("snr_db").asDouble();
            assertTrue(expected.startsWith("int4") ? snr < 32 : snr > 35, name + " " + snr);
            counted++;
        }
        assertEquals(35, counted);
        try (AricaFile f = AricaFile.open(out)) {
            JsonNode q = f.index().at("/provenance/quantization");
            assertEquals("int4", q.get("scheme").asText());
            assertEquals(3, q.get("tensor_schemes").size(), q::toString);
            assertEquals("(k|v)_proj=q8_0", q.get("tensor_schemes").get(1).asText());
        }
        Path plain = tmp.resolve("plain.arica");
        quantize(plain, "--scheme", "int4", "--asymmetric", "--group-size", "64");
        try (AricaFile f = AricaFile.open(plain)) {
            assertTrue(f.index().at("/provenance/quantization/tensor_schemes").isMissingNode(), "no rules, nothing recorded");
        }
        assertTrue(klAgainstF32(out) < klAgainstF32(plain), "8-bit k and v lower the KL");
        // Without GROUP an int rule takes the groups of an int --scheme (int4's 32 here), else its own default (int8: 128).
        assertEquals("int8 g32", storage(quantize(tmp.resolve("g.arica"), "--scheme", "int4", "--tensor-scheme", "v_proj=int8"),
                "model.layers.0.self_attn.v_proj.weight"));
        assertEquals("int8 g128", storage(quantize(tmp.resolve("h.arica"), "--scheme", "q4_0", "--tensor-scheme", "v_proj=int8"),
                "model.layers.0.self_attn.v_proj.weight"));
    }

    private static String storage(JsonNode report, String tensor) {
        for (JsonNode t : report.get("tensors")) {
            if (t.get("name").asText().equals(tensor)) {
                return t.get("storage").asText();
            }
        }
        throw new AssertionError(tensor + " not in the report");
    }

    /** Mean KL of {@code candidate} against the f32 checkpoint on the default validation texts. */
    private double klAgainstF32(Path candidate) throws IOException {
        return CliTesting.teacherForcedAgainstStories(candidate, tmp.resolve("cache")).get("mean_kl").asDouble();
    }

    @Test
    void compressionIsRecordedAndChangesNoValue() throws IOException {
        Path plain = tmp.resolve("plain.arica");
        Path packed = tmp.resolve("packed.arica");
        quantize(plain, "--scheme", "q4_0");
        JsonNode r = quantize(packed, "--scheme", "q4_0", "--compress", "19");
        assertEquals("zstd", r.get("compression").asText());
        assertTrue(Files.size(packed) < Files.size(plain), "zstd 19 shrinks the file");
        for (JsonNode t : r.get("tensors")) {
            assertEquals(t.get("raw_bytes").asDouble() / t.get("bytes_after").asDouble(),
                    t.get("compression_ratio").asDouble(), 1e-9);
        }
        ok("convert", plain.toString(), "-o", tmp.resolve("a.safetensors").toString());
        ok("convert", packed.toString(), "-o", tmp.resolve("b.safetensors").toString());
        try (Checkpoint a = Checkpoint.open(tmp.resolve("a.safetensors")); Checkpoint b = Checkpoint.open(tmp.resolve("b.safetensors"))) {
            assertEquals(names(a), names(b));
            for (TensorInfo t : a.tensors()) {
                assertArrayEquals(bytes(a.tensor(t.name())), bytes(b.tensor(t.name())), t.name());
            }
        }
        JsonNode inspect = ok("inspect", packed.toString(), "--json").json();
        assertEquals("zstd", inspect.at("/tensors/0/compression").asText());
    }

    /** A NaN in a layer weight: refused, naming the file, the tensor and the element; nothing written. */
    @Test
    void nanIsRefusedWithTheTensorAndIndex() throws IOException {
        float[] w = new float[2 * 64];
        for (int i = 0; i < w.length; i++) {
            w[i] = (i % 7) * 0.01f;
        }
        w[64 + 37] = Float.NaN;
        Path in = tmp.resolve("nan.safetensors");
        Files.write(in, new CliTesting.St()
                .f32("model.layers.0.mlp.up_proj.weight", new long[] {2, 64}, w)
                .f32("model.norm.weight", new long[] {2}, 1, 1)
                .bytes());
        Path out = tmp.resolve("nan.arica");
        for (String scheme : List.of("q8_0", "q4_0", "int8", "int4")) {
            String line = assertBadInput(run("quantize", in.toString(), "-o", out.toString(), "--scheme", scheme,
                    "--no-digest-cache"), in.toString(), "model.layers.0.mlp.up_proj.weight", "element 101",
                    "row 1, column 37", "NaN");
            assertNothingWritten(out);
            assertFalse(line.isEmpty());
        }
    }

    @Test
    void badOptionsAreRefused() throws IOException {
        Path out = tmp.resolve("x.arica");
        String m = model().toString();
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "q5_k"), "unknown scheme 'q5_k'");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--group-size", "100"),
                "--group-size", "power of two");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int8", "--group-size", "512"), "--group-size");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "q8_0", "--group-size", "64"), "groups of 32");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "q4_0", "--asymmetric"), "symmetric only");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "q4_0", "--compress", "30"), "1..22");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "q4_0", "--keep", "(unclosed"), "--keep");
        assertBadInput(run("quantize", m, "-o", out.toString()), "--scheme");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--tensor-scheme", "v_proj"),
                "--tensor-scheme: expected REGEX=SCHEME");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--tensor-scheme", "v_proj=q5_k"),
                "unknown scheme 'q5_k'");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--tensor-scheme", "(v=int8"),
                "--tensor-scheme: not a regular expression");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--tensor-scheme", "v_proj=int8:48"),
                "--tensor-scheme v_proj=int8:48", "power of two");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--tensor-scheme", "v_proj=q4_0:64"),
                "groups of 32");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--tensor-scheme", "v_proj=int8"),
                "--tensor-scheme needs --scheme");
        assertBadInput(run("quantize", m, "-o", out.toString(), "--scheme", "int4", "--method", "gptq", "--tensor-scheme",
                "v_proj=q8_0"), "writes q4_0, int4 and int8, not q8_0");
        assertNothingWritten(out);
        Path arica = tmp.resolve("q.arica");
        quantize(arica, "--scheme", "q8_0");
        assertBadInput(run("quantize", arica.toString(), "-o", out.toString(), "--scheme", "q4_0"), arica.toString(),
                "already an .arica file");
        assertNothingWritten(out);
    }

    /** verify: exit 0 on the file as written, exit 1 naming the tensor after one flipped bit in its blocks. */
    @Test
    void verifyNamesTheCorruptTensor() throws IOException {
        Path out = tmp.resolve("m.arica");
        quantize(out, "--scheme", "q4_0");
        long offset;
        try (AricaFile f = AricaFile.open(out)) {
            offset = f.entry("model.layers.2.mlp.up_proj.weight").orElseThrow().offset() + 100;
        }
        byte[] bytes = Files.readAllBytes(out);
        bytes[(int) offset] ^= 0x10;
        Files.write(out, bytes);
        CliTesting.Run r = run("verify", out.toString());
        assertEquals(ExitCode.FAILED, r.exit(), r::toString);
        assertTrue(r.errLine().contains("model.layers.2.mlp.up_proj.weight") && r.errLine().contains("checksum"), r::toString);
        Path truncated = tmp.resolve("t.arica");
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        CliTesting.Run v = run("verify", truncated.toString());
        assertEquals(ExitCode.FAILED, v.exit(), "a truncated .arica file is corrupt");
        assertTrue(v.errLine().startsWith("arica: " + truncated), v::toString);
        assertBadInput(run("convert", truncated.toString(), "-o", tmp.resolve("t.safetensors").toString()), truncated.toString());
        assertNothingWritten(tmp.resolve("t.safetensors"));
    }

    private static List<String> names(Checkpoint c) {
        return c.tensors().stream().map(TensorInfo::name).toList();
    }

    private static byte[] bytes(Tensor t) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (MemorySegment p : t.parts()) {
            b.writeBytes(p.toArray(ValueLayout.JAVA_BYTE));
        }
        return b.toByteArray();
    }
}
