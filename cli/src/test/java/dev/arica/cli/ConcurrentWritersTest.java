package dev.arica.cli;

import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.runtime.ort.OrtRuntime;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two processes writing the same destination at once, started together so that their writes overlap: one
 * wins, the other either publishes the same complete output after it or fails in one line; never a mix
 * of the two, never a temporary left behind.
 */
class ConcurrentWritersTest {

    /** About 110 MB of f32: long enough to write that two runs started together overlap. */
    static final SyntheticLlama.Spec SPEC =
            new SyntheticLlama.Spec(512, 1408, 4, 8, 8, 32000, 1024, true, DType.F32, 0.02, 7);

    @TempDir
    static Path shared;

    static Path input;

    @TempDir
    Path tmp;

    @BeforeAll
    static void model() throws IOException {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        input = shared.resolve("model");
        SyntheticLlama.write(input, SPEC, Long.MAX_VALUE, Progress.NONE);
    }

    record Finished(int exit, String log) {}

    /** Runs {@code args} in two child JVMs started together; returns both results. */
    private List<Finished> twice(String... args) throws IOException, InterruptedException {
        List<Process> ps = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path log = tmp.resolve("child-" + i + ".log");
            logs.add(log);
            ps.add(new ProcessBuilder(InterruptTest.javaCommand(args)).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start());
        }
        List<Finished> done = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            try {
                assertTrue(ps.get(i).waitFor(120, TimeUnit.SECONDS), "child " + i + " did not finish");
            } finally {
                ps.get(i).destroyForcibly();
            }
            done.add(new Finished(ps.get(i).exitValue(), Files.readString(logs.get(i))));
        }
        return done;
    }

    @Test
    void twoWritersOfOneFileBothPublishTheWholeFile() throws Exception {
        Path reference = tmp.resolve("reference").resolve("m.safetensors");
        CliTesting.ok("convert", input.toString(), "-o", reference.toString(), "--dtype", "f16");
        Path out = tmp.resolve("out");
        List<Finished> runs = twice("convert", input.toString(), "-o", out.resolve("m.safetensors").toString(), "--dtype", "f16");
        for (Finished f : runs) {
            assertEquals(ExitCode.OK, f.exit(), f::log);
        }
        assertEquals(treeDigest(reference.getParent()), treeDigest(out), "one whole file, as one run writes it");
        assertEquals(List.of("m.safetensors"), names(out), "no temporary left");
    }

    @Test
    void twoWritersOfOneDirectoryOneWinsTheOtherIsRefused() throws Exception {
        Path reference = tmp.resolve("reference");
        CliTesting.ok("convert", input.toString(), "-o", reference.toString(), "--dtype", "f16", "--max-shard-size", "30MB");
        Path out = tmp.resolve("out");
        Path dest = out.resolve("f16");
        List<Finished> runs = twice("convert", input.toString(), "-o", dest.toString(), "--dtype", "f16",
                "--max-shard-size", "30MB");
        List<Integer> exits = runs.stream().map(Finished::exit).sorted().toList();
        assertEquals(List.of(ExitCode.OK, ExitCode.BAD_INPUT), exits, runs::toString);
        Finished refused = runs.stream().filter(f -> f.exit() == ExitCode.BAD_INPUT).findFirst().orElseThrow();
        List<String> lines = refused.log().lines().filter(l -> l.startsWith("arica: ")).toList();
        assertEquals(List.of("arica: " + dest + ": output directory exists and is not empty (use --force to replace it)"),
                lines, refused::log);
        assertEquals(treeDigest(reference), treeDigest(dest), "the winner's output, whole");
        assertEquals(List.of("f16"), names(out), "no temporary left");
    }

    @Test
    void twoReplacingWritersOfOneDirectoryLeaveOneWholeOutput() throws Exception {
        Path reference = tmp.resolve("reference");
        CliTesting.ok("convert", input.toString(), "-o", reference.toString(), "--dtype", "f16", "--max-shard-size", "30MB");
        Path out = tmp.resolve("out");
        Path dest = out.resolve("f16");
        Files.createDirectories(dest);
        Files.writeString(dest.resolve("old.txt"), "the previous output");
        List<Finished> runs = twice("convert", input.toString(), "-o", dest.toString(), "--dtype", "f16",
                "--max-shard-size", "30MB", "--force");
        for (Finished f : runs) {
            assertEquals(ExitCode.OK, f.exit(), f::log);
        }
        assertEquals(treeDigest(reference), treeDigest(dest), "one run's output, whole, nothing of the old one");
        assertEquals(List.of("f16"), names(out), "no temporary or old directory left");
    }

    @Test
    void twoGeneratorsFillingOneCacheEntryBothGenerateFromOneWholeEntry() throws Exception {
        Path referenceCache = tmp.resolve("reference-cache");
        String[] reference = generate(referenceCache);
        CliTesting.Run r = CliTesting.run(reference);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        Path cache = tmp.resolve("cache");
        List<Finished> runs = twice(generate(cache));
        for (Finished f : runs) {
            assertEquals(ExitCode.OK, f.exit(), f::log);
            assertTrue(f.log().contains(r.out().strip()), () -> "the same ids as one run alone: " + r.out() + "\n" + f.log());
        }
        assertEquals(treeDigest(referenceCache.resolve("onnx")), treeDigest(cache.resolve("onnx")),
                "one whole entry, as one run exports it, and no temporary");
        assertEquals(names(referenceCache.resolve("onnx")), names(cache.resolve("onnx")));
    }

    private static String[] generate(Path cache) {
        return new String[] {"generate", input.toString(), "--cache-dir", cache.toString(), "--ids", "1,2,3",
            "--max-new-tokens", "3", "--threads", "1", "--device", "cpu"};
    }
}
