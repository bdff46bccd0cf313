package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arica forward} on stories260K against the reference C implementation's logits, and its refusals. */
class ForwardCommandTest {

    @TempDir
    static Path tmp;

    static Path cache;
    static Path exported;
    /** The first greedy reference line: its prompt and the ids of its first 256 positions (those of the reference logits). */
    static Stories260K.Greedy line;
    static int[] ids;
    static float[][] reference;

    @BeforeAll
    static void setUp() throws IOException {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        cache = tmp.resolve("cache");
        exported = tmp.resolve("exported");
        ok("export-onnx", Stories260K.checkpoint().toString(), "-o", exported.toString());
        line = Stories260K.greedy().getFirst();
        reference = Stories260K.referenceLogits();
        ids = Arrays.copyOf(line.ids(), reference.length);
        assertTrue(line.ids().length > reference.length, "the line goes on after the logits' positions");
    }

    /** forward MODEL with the test cache, one thread and the CPU, then {@code args}. */
    static CliTesting.Run forward(Path model, String... args) {
        List<String> all = new ArrayList<>(List.of("forward", model.toString(), "--cache-dir", cache.toString(), "--threads", "1",
                "--device", "cpu"));
        all.addAll(Arrays.asList(args));
        return run(all.toArray(String[]::new));
    }

    static CliTesting.Run forwarded(Path model, String... args) {
        CliTesting.Run r = forward(model, args);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r;
    }

    static String list(int[] values) {
        return Arrays.stream(values).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }

    /** An .npy file read by hand: the version 1.0 header parsed with a regular expression, then the float32 data. */
    record Npy(int rows, int cols, float[][] values) {
        static final Pattern HEADER = Pattern.compile(
                "\\{'descr': '<f4', 'fortran_order': False, 'shape': \\((\\d+), (\\d+)\\), } *\n");

        static Npy read(Path file) throws IOException {
            byte[] all = Files.readAllBytes(file);
            assertEquals("\u0093NUMPY", new String(all, 0, 6, StandardCharsets.ISO_8859_1), "magic");
            assertEquals(1, all[6], "major version");
            assertEquals(0, all[7], "minor version");
            int headerLength = (all[8] & 0xff) | (all[9] & 0xff) << 8;
            int dataStart = 10 + headerLength;
            assertEquals(0, dataStart % 64, "the data starts 64-aligned");
            Matcher m = HEADER.matcher(new String(all, 10, headerLength, StandardCharsets.US_ASCII));
            assertTrue(m.matches(), () -> "header: " + new String(all, 10, headerLength, StandardCharsets.US_ASCII));
            int rows = Integer.parseInt(m.group(1));
            int cols = Integer.parseInt(m.group(2));
            assertEquals((long) dataStart + 4L * rows * cols, all.length, "header and data, nothing else");
            ByteBuffer b = ByteBuffer.wrap(all, dataStart, all.length - dataStart).order(ByteOrder.LITTLE_ENDIAN);
            float[][] values = new float[rows][cols];
            for (float[] row : values) {
                for (int c = 0; c < cols; c++) {
                    row[c] = b.getFloat();
                }
            }
            return new Npy(rows, cols, values);
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /** The logits of 256 positions of a llama2.c checkpoint (exported on the fly) match llama2.c's own. */
    @Test
    void theLogitsOfEveryPositionMatchTheReference() throws IOException {
        Path out = tmp.resolve("logits.npy");
        CliTesting.Run r = forwarded(Stories260K.checkpoint(), "--ids", list(ids), "-o", out.toString(), "--json");
        Npy npy = Npy.read(out);
        assertEquals(256, npy.rows());
        assertEquals(512, npy.cols());
        double worst = 0;
        for (int p = 0; p < ids.length; p++) {
            worst = Math.max(worst, maxAbsDiff(reference[p], npy.values()[p]));
            assertEquals(line.ids()[p + 1], Sampler.argmax(npy.values()[p]), "the greedy reference's next id at position " + p);
        }
        // Measured: 1.7e-5 (the ORT-optimized graph an on-the-fly export gets on the CPU; 2.3e-5 on the standard one).
        assertTrue(worst <= 1e-4, "largest difference from the reference logits: " + worst);
        JsonNode j = r.json();
        assertEquals(256, j.get("positions").asInt());
        assertEquals(512, j.get("vocab").asInt());
        assertEquals(out.toString(), j.get("output").asText());
        for (int p = 0; p < ids.length; p++) {
            assertEquals(ids[p], j.get("ids").get(p).asInt());
            assertEquals(line.ids()[p + 1], j.get("argmax").get(p).asInt(), "argmax at " + p);
        }
        assertEquals(256, j.get("ids").size());
        assertEquals(256, j.get("argmax").size());
        List<String> err = r.err().lines().toList();
        assertTrue(err.contains("arica: device cpu"), r::toString);
        assertTrue(err.getLast().matches("arica: 256 positions in [\\d.]+ s \\([\\d.]+ tok/s\\)"), r::toString);
        CliTesting.assertNoTemporaries(tmp);
    }

    /** --text is encoded with BOS: the prompt's positions of the same reference. */
    @Test
    void textIsEncodedWithTheBeginningOfSequence() throws IOException {
        Path out = tmp.resolve("text.npy");
        CliTesting.Run r = forwarded(exported, "--text", line.prompt(), "-o", out.toString());
        int n = line.promptIds().length;
        assertEquals(out + ": logits of " + n + " positions x 512, float32 (" + (128 + 4 * n * 512) + " bytes)\n", r.out());
        Npy npy = Npy.read(out);
        assertEquals(n, npy.rows());
        for (int p = 0; p < n; p++) {
            assertTrue(maxAbsDiff(reference[p], npy.values()[p]) <= 1e-4, "position " + p);
        }
        // The same ids given as --ids: the same file, byte for byte; an existing output is replaced.
        Path again = Files.writeString(tmp.resolve("again.npy"), "old");
        forwarded(exported, "--ids", list(line.promptIds()), "-o", again.toString());
        assertEquals(Arrays.toString(Files.readAllBytes(out)), Arrays.toString(Files.readAllBytes(again)));
    }

    /** A checkpoint without any tokenizer runs on ids; text needs a tokenizer. */
    @Test
    void aModelWithoutTokenizerRunsOnIds() throws IOException {
        Path alone = Files.createDirectories(tmp.resolve("alone"));
        Path model = Files.copy(Stories260K.checkpoint(), alone.resolve("stories260K.bin"));
        Path out = tmp.resolve("alone.npy");
        CliTesting.Run r = forwarded(model, "--ids", list(Arrays.copyOf(ids, 20)), "-o", out.toString(), "--json");
        assertEquals(20, r.json().get("positions").asInt());
        Npy npy = Npy.read(out);
        for (int p = 0; p < 20; p++) {
            assertTrue(maxAbsDiff(reference[p], npy.values()[p]) <= 1e-4, "position " + p);
        }
        Path none = tmp.resolve("none.npy");
        assertBadInput(forward(model, "--text", "Hi", "-o", none.toString()), model.toString(), "no tokenizer", "--tokenizer");
        assertNothingWritten(none);
    }

    // ---- refusals: one line, exit 2, nothing written ----

    @Test
    void badInputs() throws IOException {
        Path out = tmp.resolve("bad.npy");
        assertBadInput(forward(exported, "--ids", "1,2"), "--output");
        assertBadInput(forward(exported, "--ids", "1,2", "--text", "Hi", "-o", out.toString()), "--ids", "--text",
                "mutually exclusive");
        assertBadInput(forward(exported, "-o", out.toString()), "--ids", "--text");
        assertBadInput(forward(exported, "--ids", "1,512", "-o", out.toString()), "--ids", "512", "vocabulary of 512");
        assertBadInput(forward(exported, "--ids", "1,-3", "-o", out.toString()), "--ids", "-3", "negative");
        assertBadInput(forward(exported, "--ids", "1,two", "-o", out.toString()), "--ids", "'two'", "not a token id");
        assertBadInput(forward(exported, "--ids", "1,,2", "-o", out.toString()), "--ids", "''");
        assertBadInput(forward(exported, "--ids", "", "-o", out.toString()), "--ids", "empty");
        int[] tooMany = new int[513];
        Arrays.fill(tooMany, 1);
        assertBadInput(forward(exported, "--ids", list(tooMany), "-o", out.toString()), "513 ids", "context of 512");
        assertBadInput(forward(exported, "--ids", "1", "-o", tmp.toString()), tmp.toString(), "is a directory");
        assertBadInput(forward(exported, "--ids", "1", "-o", out.toString(), "--threads", "0"), "--threads");
        assertNothingWritten(out);
    }

    @Test
    void helpDocumentsTheOptions() {
        String out = ok("forward", "--help").out();
        for (String option : List.of("MODEL", "--ids", "--text", "-o", "--output", "--device", "--threads", "--json",
                "--tokenizer", "--cache-dir", "--no-cache", "--graph")) {
            assertTrue(out.contains(option), () -> "mentions " + option + "\n" + out);
        }
    }
}
