package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.testing.ReferenceModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs and outputs in awkward places: read-only inputs, paths with spaces and non-ASCII characters, an
 * output under a file or where a file is, an output inside its input (written) or over it (refused in one
 * line). Every writing command, through the same factory as main.
 */
class OutputPathsTest {

    @TempDir
    static Path shared;

    /** stories260K as an HF directory, and exported to ONNX. */
    static Path hf;
    static Path onnx;

    @TempDir
    Path tmp;

    @BeforeAll
    static void inputs() {
        CliTesting.Stories s = CliTesting.storiesHfAndOnnx(shared);
        hf = s.hf();
        onnx = s.onnx();
    }

    /** Every writing command reading {@code in} (an HF directory), writing under {@code out}; its exit must be 0. */
    private static void writeEverything(Path in, Path out) {
        String i = in.toString();
        ok("convert", i, "-o", out.resolve("m.safetensors").toString(), "--dtype", "f16");
        ok("convert", i, "-o", out.resolve("sharded").toString(), "--max-shard-size", "300kB");
        assertEquals(ExitCode.OK, run("quantize", i, "-o", out.resolve("m.arica").toString(), "--scheme", "q8_0",
                "--no-digest-cache").exit());
        ok("export-onnx", i, "-o", out.resolve("onnx").toString());
        ok("export-gguf", i, "-o", out.resolve("m.gguf").toString());
        ok("upscale", i, "-o", out.resolve("up").toString(), "--drop", "1");
        ok("inspect", i);
        CliTesting.Run g = run("generate", i, "--cache-dir", out.resolve("cache dir").toString(), "--prompt", "Once upon",
                "--max-new-tokens", "3", "--threads", "1", "--device", "cpu");
        assertEquals(ExitCode.OK, g.exit(), g::toString);
    }

    @Test
    void readOnlyInputsAreReadAndLeftAsTheyAre() throws Exception {
        Path in = copy(hf, tmp.resolve("read-only"));
        List<String> before = treeDigest(in);
        List<Path> all;
        try (Stream<Path> s = Files.walk(in)) {
            all = s.toList();
        }
        try {
            for (Path p : all.reversed()) {
                assertTrue(p.toFile().setWritable(false, false), "read-only: " + p);
            }
            writeEverything(in, tmp.resolve("out"));
        } finally {
            for (Path p : all) {
                p.toFile().setWritable(true, true);
            }
        }
        assertEquals(before, treeDigest(in), "the input is unchanged");
    }

    @Test
    void pathsWithSpacesAndNonAsciiCharacters() throws Exception {
        Path in = copy(hf, tmp.resolve("mit Leerzeichen").resolve("modèle ünïcødé 模型"));
        Path out = tmp.resolve("out put").resolve("ñandú — 出力");
        writeEverything(in, out);
        assertTrue(ok("convert", in.toString(), "-o", out.resolve("again.safetensors").toString()).out()
                .startsWith("wrote " + out.resolve("again.safetensors") + ":"), "the path printed as given");
        assertEquals(List.of("again.safetensors", "cache dir", "m.arica", "m.gguf", "m.safetensors", "onnx", "sharded", "up"),
                names(out));
    }

    @Test
    void anOutputUnderAFileIsRefusedNamingTheFile() throws Exception {
        Path file = Files.writeString(tmp.resolve("a file"), "not a directory");
        Path under = file.resolve("sub");
        for (String[] args : List.of(
                new String[] {"convert", hf.toString(), "-o", under.resolve("m.safetensors").toString()},
                new String[] {"convert", hf.toString(), "-o", under.toString()},
                new String[] {"quantize", hf.toString(), "-o", under.resolve("m.arica").toString(), "--scheme", "q8_0"},
                new String[] {"export-onnx", hf.toString(), "-o", under.toString()},
                new String[] {"export-gguf", hf.toString(), "-o", under.resolve("m.gguf").toString()},
                new String[] {"upscale", hf.toString(), "-o", under.toString(), "--drop", "1"},
                new String[] {"forward", onnx.toString(), "--ids", "1,2", "-o", under.resolve("l.npy").toString(),
                    "--threads", "1", "--device", "cpu"})) {
            CliTesting.Run r = run(args);
            // forward names its device first; the failure is the last line.
            List<String> lines = r.err().lines().toList();
            assertEquals(ExitCode.BAD_INPUT, r.exit(), r::toString);
            assertEquals("arica: " + file + ": is a file, not a directory", lines.getLast(), r::toString);
        }
        assertEquals("not a directory", Files.readString(file));
        assertEquals(List.of("a file"), names(tmp));
    }

    @Test
    void anOutputDirectoryThatIsAFileIsRefused() throws Exception {
        Path file = Files.writeString(tmp.resolve("taken"), "a file");
        for (String[] args : List.of(
                new String[] {"convert", hf.toString(), "-o", file.toString(), "--force"},
                new String[] {"export-onnx", hf.toString(), "-o", file.toString(), "--force"},
                new String[] {"upscale", hf.toString(), "-o", file.toString(), "--drop", "1", "--force"})) {
            assertBadInput(run(args), file.toString(), "exists and is not a directory");
        }
        assertEquals("a file", Files.readString(file));
        assertEquals(List.of("taken"), names(tmp));
    }

    @Test
    void outputsInsideTheInputAreWrittenAndTheInputReadsTheSame() throws Exception {
        Path in = copy(hf, tmp.resolve("in"));
        List<String> inspected = tensorsAndConfig(in);
        writeEverything(in, in);
        assertEquals(inspected, tensorsAndConfig(in), "the input reads as before");
    }

    @Test
    void outputsOverTheInputAreRefused() throws Exception {
        Path in = copy(hf, tmp.resolve("in"));
        Path base = copy(new ReferenceModel("tiny-gemma2").dir(), tmp.resolve("base"));
        List<String> before = treeDigest(tmp);
        String i = in.toString();
        Path model = in.resolve("model.safetensors");
        List<String[]> refused = new ArrayList<>();
        for (String command : List.of("convert", "export-onnx", "upscale")) {
            List<String> extra = command.equals("upscale") ? List.of("--drop", "1") : List.of();
            for (Path out : List.of(in, tmp)) {
                List<String> a = new ArrayList<>(List.of(command, i, "-o", out.toString(), "--force"));
                a.addAll(extra);
                refused.add(a.toArray(String[]::new));
            }
        }
        refused.add(new String[] {"convert", i, "-o", model.toString()});
        refused.add(new String[] {"quantize", model.toString(), "-o", model.toString(), "--scheme", "q8_0"});
        refused.add(new String[] {"export-gguf", i, "-o", model.toString()});
        String adapter = new ReferenceModel("tiny-gemma2-lora").dir().toString();
        refused.add(new String[] {"merge-lora", base.toString(), adapter, "-o", tmp.toString(), "--force"});
        refused.add(new String[] {"merge-lora", base.toString(), adapter, "-o", base.resolve("model.safetensors").toString()});
        for (String[] args : refused) {
            String line = assertBadInput(run(args), "write to another path");
            assertTrue(line.contains(" is the input") || line.contains(" holds the input"), line);
        }
        assertEquals(before, treeDigest(tmp), "nothing written, nothing removed");
    }

    /** What inspect says of a model, but its side files (the outputs written beside it are among them). */
    private static List<String> tensorsAndConfig(Path model) {
        return ok("inspect", model.toString()).out().lines().filter(l -> !l.startsWith("files ")).toList();
    }

    /** A copy of the files (not the folders) of {@code from}. */
    private static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                Files.copy(p, to.resolve(p.getFileName().toString()));
            }
        }
        return to;
    }
}
