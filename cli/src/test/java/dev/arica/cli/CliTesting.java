package dev.arica.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.DType;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** Runs the CLI in-process and checks what it printed; fixtures and readers independent of the code under test. */
final class CliTesting {
    private CliTesting() {}

    /** Strict JSON: one value, nothing after it. */
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** What one run of the command line returned and printed. */
    record Run(List<String> args, int exit, String out, String err) {
        @Override
        public String toString() {
            return "arica " + String.join(" ", args) + "\n  exit " + exit + "\n  stdout: " + out + "\n  stderr: " + err;
        }

        JsonNode json() {
            try {
                return JSON.readTree(out);
            } catch (IOException e) {
                throw new AssertionError("stdout is not a single JSON value: " + e.getMessage() + "\n" + this, e);
            }
        }

        /** The only line of stderr. */
        String errLine() {
            assertTrue(err.endsWith("\n"), () -> "stderr does not end with a newline\n" + this);
            String body = err.substring(0, err.length() - 1);
            assertFalse(body.contains("\n") || body.contains("\r"), () -> "stderr is not exactly one line\n" + this);
            return body;
        }
    }

    /** Runs {@code arica args...} through the same factory as main, capturing stdout and stderr. */
    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), args).execute(args);
        return new Run(List.of(args), exit, out.toString(), err.toString());
    }

    /** A progress line (ProgressPrinter's, printed to a non-terminal only when a task runs for a while). */
    private static final java.util.regex.Pattern PROGRESS = java.util.regex.Pattern.compile(
            "(?m)^[a-z-]+: +\\d+\\.\\d% .* of .*/s\\R");

    /** stories260K as an HF directory and as its ONNX export, under {@code dir}: the inputs of the writer tests. */
    record Stories(Path hf, Path onnx) {}

    static Stories storiesHfAndOnnx(Path dir) {
        // ORT's native libraries unpacked under target/ before a test makes any disk full.
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        Path hf = dir.resolve("hf");
        Path onnx = dir.resolve("onnx");
        ok("convert", Stories260K.checkpoint().toString(), "-o", hf.toString());
        ok("export-onnx", hf.toString(), "-o", onnx.toString());
        return new Stories(hf, onnx);
    }

    /**
     * {@code validate} of {@code candidate} against stories260K's f32 checkpoint on the default validation texts (CPU, one
     * thread, exports cached in {@code cacheDir}): its teacher-forced figures, from the JSON written beside the candidate.
     */
    static JsonNode teacherForcedAgainstStories(Path candidate, Path cacheDir) throws IOException {
        Path json = candidate.resolveSibling(candidate.getFileName() + "-validate.json");
        Run r = run("validate", "--reference", Stories260K.checkpoint().toString(), "--candidate", candidate.toString(),
                "--cache-dir", cacheDir.toString(), "--threads", "1", "--device", "cpu", "--json", json.toString());
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return JSON.readTree(json.toFile()).get("teacher_forced");
    }

    /** Runs a command that must succeed, with nothing on stderr but progress (which a loaded machine may show). */
    static Run ok(String... args) {
        Run r = run(args);
        assertEquals(ExitCode.OK, r.exit(), () -> "expected success\n" + r);
        assertEquals("", PROGRESS.matcher(r.err()).replaceAll(""), () -> "expected an empty stderr\n" + r);
        return r;
    }

    /**
     * A run that failed on bad input: exit 2, nothing on stdout, one line on stderr starting "arica: " that
     * contains every one of {@code mentions}, and no stack trace. Returns that line.
     */
    static String assertBadInput(Run r, String... mentions) {
        assertEquals(ExitCode.BAD_INPUT, r.exit(), () -> "expected exit 2\n" + r);
        assertEquals("", r.out(), () -> "expected nothing on stdout\n" + r);
        String line = r.errLine();
        assertTrue(line.startsWith("arica: "), () -> "message does not start with 'arica: '\n" + r);
        assertFalse(line.contains("\tat ") || line.contains("Exception") || line.contains("internal error"),
                () -> "message looks like a stack trace or an internal error\n" + r);
        for (String m : mentions) {
            assertTrue(line.contains(m), () -> "message does not mention '" + m + "'\n" + r);
        }
        return line;
    }

    /** Nothing at {@code destination}, and no temporary of arica beside it. */
    static void assertNothingWritten(Path destination) throws IOException {
        assertFalse(Files.exists(destination, LinkOption.NOFOLLOW_LINKS), () -> destination + " was created");
        assertNoTemporaries(destination.toAbsolutePath().getParent());
    }

    static void assertNoTemporaries(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<String> temps = names(dir).stream().filter(n -> n.contains(AtomicOutput.TEMP_MARK)).toList();
        assertEquals(List.of(), temps, () -> "temporaries left in " + dir);
    }

    /** Sorted names of the entries of {@code dir}. */
    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static String sha256(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 20];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** sha256 of every regular file under {@code root}, as "relative-path sha256" lines, sorted. */
    static List<String> treeDigest(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                out.add(root.relativize(p) + " " + sha256(p));
            }
        }
        return out;
    }

    // ---- safetensors built and read by hand, independently of the formats module ----

    /** A safetensors file assembled by hand: tensors back to back in the order added, a literal JSON header. */
    static final class St {
        private final List<String> entries = new ArrayList<>();
        private final ByteArrayOutputStream data = new ByteArrayOutputStream();
        private String metadata = "{\"format\":\"pt\"}";

        /** A tensor with an arbitrary dtype string (which may be invalid) and its raw bytes. */
        St tensor(String name, String dtype, long[] shape, byte[] content) {
            long begin = data.size();
            entries.add("\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + Arrays.toString(shape).replace(" ", "")
                    + ",\"data_offsets\":[" + begin + "," + (begin + content.length) + "]}");
            data.writeBytes(content);
            return this;
        }

        St f32(String name, long[] shape, float... values) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                b.putFloat(v);
            }
            return tensor(name, "F32", shape, b.array());
        }

        St i32(String name, long[] shape, int... values) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int v : values) {
                b.putInt(v);
            }
            return tensor(name, "I32", shape, b.array());
        }

        byte[] bytes() {
            String header = "{\"__metadata__\":" + metadata + (entries.isEmpty() ? "" : ",") + String.join(",", entries) + "}";
            byte[] h = header.getBytes(StandardCharsets.UTF_8);
            byte[] d = data.toByteArray();
            ByteBuffer b = ByteBuffer.allocate(8 + h.length + d.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(h.length).put(h).put(d);
            return b.array();
        }

        Path write(Path file) throws IOException {
            Files.write(file, bytes());
            return file;
        }
    }

    /** A safetensors file read whole and parsed with plain Jackson. */
    record StRead(Path file, ObjectNode header, ByteBuffer data) {
        static StRead of(Path file) throws IOException {
            byte[] all = Files.readAllBytes(file);
            ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            long n = b.getLong(0);
            assertTrue(n > 0 && 8 + n <= all.length, () -> file + ": bad header length " + n);
            ObjectNode header = (ObjectNode) JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
            ByteBuffer data = ByteBuffer.wrap(all, 8 + (int) n, all.length - 8 - (int) n).slice().order(ByteOrder.LITTLE_ENDIAN);
            return new StRead(file, header, data);
        }

        List<String> tensorNames() {
            List<String> names = new ArrayList<>();
            header.fieldNames().forEachRemaining(n -> {
                if (!n.equals("__metadata__")) {
                    names.add(n);
                }
            });
            return names;
        }

        JsonNode entry(String name) {
            JsonNode e = header.get(name);
            if (e == null) {
                fail(file + " has no tensor " + name);
            }
            return e;
        }

        DType dtype(String name) {
            return DType.valueOf(entry(name).get("dtype").asText());
        }

        long[] shape(String name) {
            JsonNode s = entry(name).get("shape");
            long[] out = new long[s.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = s.get(i).asLong();
            }
            return out;
        }

        /** The tensor's bytes, little-endian. */
        ByteBuffer bytes(String name) {
            JsonNode off = entry(name).get("data_offsets");
            int begin = off.get(0).asInt();
            int end = off.get(1).asInt();
            assertTrue(end <= data.capacity(), () -> file + ": " + name + " runs past the end of the data");
            return data.slice(begin, end - begin).order(ByteOrder.LITTLE_ENDIAN);
        }

        byte[] byteArray(String name) {
            ByteBuffer b = bytes(name);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        }

        long dataBytes() {
            return data.capacity();
        }
    }
}
