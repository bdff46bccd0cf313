package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertNoTemporaries;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.runtime.ort.OrtRuntime;
import dev.arica.testdata.SyntheticLlama;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CLI in a separate JVM, stopped in the middle of a conversion: a SIGTERM must leave neither the
 * destination nor a temporary; a SIGKILL must not leave the destination. The input is never modified.
 */
@DisabledOnOs(value = OS.WINDOWS, disabledReason = "signals: Process.destroy() is not SIGTERM on Windows")
class InterruptTest {

    /**
     * About 440 MB of f32 (6 layers of hidden 1024, vocab 32000, tied; 220 MB once cast to f16): about a
     * second to convert, so a signal lands mid-write, and a few seconds to generate.
     */
    static final SyntheticLlama.Spec SPEC =
            new SyntheticLlama.Spec(1024, 2816, 6, 16, 16, 32000, 2048, true, DType.F32, 0.02, 5);

    /** Bytes the temporary must hold before the signal, to be sure the conversion is writing. */
    static final long STARTED_BYTES = 4L << 20;

    @TempDir
    static Path shared;

    static Path input;
    static List<String> inputDigest;

    @TempDir
    Path tmp;

    @BeforeAll
    static void bigModel() throws IOException {
        // ORT's native libraries (for the generate runs in this JVM) under target/, not the user's cache.
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        input = shared.resolve("big");
        SyntheticLlama.write(input, SPEC, Long.MAX_VALUE, Progress.NONE);
        inputDigest = treeDigest(input);
    }

    /** The command that starts the CLI in a fresh JVM, like bin/arica does, with this test's classpath. */
    static List<String> javaCommand(String... args) {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String classpath = System.getProperty("java.class.path");
        // Surefire may start tests through a manifest-only jar; the real classpath must still hold the CLI.
        List<String> entries = List.of(classpath.split(File.pathSeparator));
        assertTrue(entries.stream().anyMatch(e -> Files.isRegularFile(Path.of(e).resolve("dev/arica/cli/Main.class"))
                || e.contains("arica-cli")), () -> "the CLI's classes are not on java.class.path: " + classpath);
        assertTrue(entries.stream().anyMatch(e -> e.contains("picocli")), () -> "picocli is not on java.class.path: " + classpath);
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-cp", classpath, Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    record Finished(int exit, String out, String err) {}

    private Finished runToEnd(List<String> cmd) throws IOException, InterruptedException {
        Path out = tmp.resolve("stdout.txt");
        Path err = tmp.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
        return new Finished(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /**
     * Starts {@code convert input -o destination --dtype f16} in a child JVM, waits until its temporary
     * beside {@code destination} holds a few MB (the conversion is writing), then stops it with SIGTERM
     * ({@code destroy}) or SIGKILL ({@code destroyForcibly}). Returns the exit status.
     */
    private int interrupt(Path destination, boolean forcibly) throws IOException, InterruptedException {
        return interrupt(destination, forcibly, "convert", input.toString(), "-o", destination.toString(),
                "--dtype", "f16", "--max-shard-size", "100MB");
    }

    /** {@link #interrupt(Path, boolean)} for any command writing {@code destination}. */
    private int interrupt(Path destination, boolean forcibly, String... command) throws IOException, InterruptedException {
        Path parent = destination.getParent();
        Files.createDirectories(parent);
        Path log = tmp.resolve("child.log");
        Process p = new ProcessBuilder(javaCommand(command))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (bytesUnder(temporaries(parent)) < STARTED_BYTES) {
                if (!p.isAlive()) {
                    fail("the conversion ended (exit " + p.exitValue() + ") before its temporary was seen:\n"
                            + Files.readString(log));
                }
                if (System.nanoTime() > deadline) {
                    fail("no temporary of " + STARTED_BYTES + " bytes appeared in " + parent + " within 30 s:\n"
                            + Files.readString(log));
                }
                Thread.sleep(1);
            }
            assertTrue(p.isAlive(), "still converting when the signal is sent");
            if (forcibly) {
                p.destroyForcibly();
            } else {
                p.destroy();
            }
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the child JVM did not stop");
        } finally {
            p.destroyForcibly();
        }
        int exit = p.exitValue();
        assertFalse(Files.exists(destination, LinkOption.NOFOLLOW_LINKS),
                () -> "a stopped conversion left " + destination + " (exit " + exit + ")\n" + readQuietly(log));
        assertEquals(inputDigest, treeDigest(input), "the input is unchanged");
        return exit;
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    /** Bytes of the regular files under {@code roots}; files deleted while counting count as 0. */
    private static long bytesUnder(List<Path> roots) throws IOException {
        long n = 0;
        for (Path root : roots) {
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.toList()) {
                    try {
                        n += Files.isRegularFile(p) ? Files.size(p) : 0;
                    } catch (java.nio.file.NoSuchFileException gone) {
                        // removed since listed
                    }
                }
            } catch (java.nio.file.NoSuchFileException | java.io.UncheckedIOException gone) {
                // the temporary went away (renamed on commit or removed): the loop checks the process
            }
        }
        return n;
    }

    private static List<Path> temporaries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().contains(AtomicOutput.TEMP_MARK)).toList();
        }
    }

    /** A calibration stopped by SIGTERM leaves no spill directory of the layers' inputs in the temporary directory. */
    @Test
    void aCalibrationStoppedBySigtermLeavesNoSpill() throws Exception {
        Path scratch = Files.createDirectories(tmp.resolve("java-tmp"));
        Path out = tmp.resolve("out").resolve("gptq.arica");
        Files.createDirectories(out.getParent());
        List<String> cmd = new ArrayList<>(javaCommand("quantize",
                dev.arica.formats.testing.Stories260K.checkpoint().toString(), "-o", out.toString(), "--scheme", "int4",
                "--method", "gptq", "--no-digest-cache"));
        cmd.add(1, "-Djava.io.tmpdir=" + scratch);
        Path log = tmp.resolve("calibration.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (spills(scratch).isEmpty()) {
                if (!p.isAlive()) {
                    fail("the quantize ended (exit " + p.exitValue() + ") before its calibration spill was seen:\n"
                            + Files.readString(log));
                }
                if (System.nanoTime() > deadline) {
                    fail("no arica-calibration-* directory appeared in " + scratch + " within 60 s:\n"
                            + Files.readString(log));
                }
                Thread.sleep(1);
            }
            p.destroy();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the child JVM did not stop");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(List.of(), spills(scratch), () -> "left behind after SIGTERM:\n" + readQuietly(log));
        assertFalse(Files.exists(out), "no output");
    }

    private static List<Path> spills(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(q -> q.getFileName().toString().startsWith("arica-calibration-")).toList();
        }
    }

    @Test
    void theChildJvmRuns() throws Exception {
        Finished f = runToEnd(javaCommand("--version"));
        assertEquals(0, f.exit(), f::toString);
        assertTrue(f.out().startsWith("arica "), f::toString);
        Finished bad = runToEnd(javaCommand("inspect", tmp.resolve("missing").toString()));
        assertEquals(ExitCode.BAD_INPUT, bad.exit(), bad::toString);
        assertTrue(bad.err().lines().anyMatch(l -> l.startsWith("arica: " + tmp.resolve("missing"))), bad::toString);
    }

    @Test
    void sigtermToSingleFileRemovesTheTemporary() throws Exception {
        Path destination = tmp.resolve("out").resolve("model.safetensors");
        int exit = interrupt(destination, false);
        assertEquals(128 + 15, exit, "the JVM ends on SIGTERM, after its shutdown hooks");
        assertNoTemporaries(destination.getParent());
    }

    @Test
    void sigtermToDirectoryRemovesTheTemporary() throws Exception {
        Path destination = tmp.resolve("out").resolve("model-f16");
        int exit = interrupt(destination, false);
        assertEquals(128 + 15, exit, "the JVM ends on SIGTERM, after its shutdown hooks");
        assertNoTemporaries(destination.getParent());
    }

    @Test
    void sigtermDuringQuantizeRemovesTheTemporary() throws Exception {
        Path destination = tmp.resolve("out").resolve("model.arica");
        int exit = interrupt(destination, false, "quantize", input.toString(), "-o", destination.toString(),
                "--scheme", "q4_0", "--quantize-embeddings", "--threads", "1", "--no-digest-cache");
        assertEquals(128 + 15, exit, "the JVM ends on SIGTERM, after its shutdown hooks");
        assertNoTemporaries(destination.getParent());
    }

    @Test
    void sigkillNeverLeavesTheDestination() throws Exception {
        Path destination = tmp.resolve("out").resolve("killed.safetensors");
        int exit = interrupt(destination, true);
        assertEquals(128 + 9, exit, "killed by SIGKILL");
        // A hidden temporary may remain after SIGKILL; it must not be mistaken for the output.
        for (Path t : temporaries(destination.getParent())) {
            assertTrue(t.getFileName().toString().startsWith("."), () -> "temporaries are hidden: " + t);
        }
    }

    /** A command writing the big model to {@code name} (a file when it has an extension, else a directory). */
    record Writer(String name, Function<Path, List<String>> args) {
        @Override
        public String toString() {
            return String.join(" ", args.apply(Path.of(name))).replace(input.toString(), "big");
        }
    }

    static Stream<Writer> writers() {
        return Stream.of(
                new Writer("f16.safetensors", d -> List.of("convert", input.toString(), "-o", d.toString(), "--dtype", "f16")),
                new Writer("f16", d -> List.of("convert", input.toString(), "-o", d.toString(), "--dtype", "f16",
                        "--max-shard-size", "100MB", "--force")),
                new Writer("q4_0.arica", d -> List.of("quantize", input.toString(), "-o", d.toString(), "--scheme", "q4_0",
                        "--quantize-embeddings", "--threads", "1", "--no-digest-cache")),
                new Writer("onnx", d -> List.of("export-onnx", input.toString(), "-o", d.toString(), "--force")),
                new Writer("f16.gguf", d -> List.of("export-gguf", input.toString(), "-o", d.toString(), "--type", "f16")),
                new Writer("sliced", d -> List.of("upscale", input.toString(), "-o", d.toString(), "--slices", "0:3,1:3",
                        "--force")));
    }

    /**
     * Each writer killed (SIGKILL) when its temporary holds half of its output, and again at nine tenths:
     * the previous output stays byte for byte, the input too; the rerun succeeds, writes the same output and
     * removes the killed runs' temporaries.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("writers")
    void sigkillAtSeveralPointsKeepsThePreviousOutputAndTheRerunSucceeds(Writer w) throws Exception {
        Path parent = tmp.resolve("out");
        Path destination = parent.resolve(w.name());
        String[] args = w.args().apply(destination).toArray(String[]::new);
        assertEquals(ExitCode.OK, CliTesting.run(args).exit());
        List<String> previous = treeDigest(parent);
        List<String> contents = contents(destination);
        long size = bytesUnder(List.of(destination));
        for (double fraction : new double[] {0.5, 0.9}) {
            killWhenWritten(parent, (long) (fraction * size), args);
            assertEquals(previous, treeDigest(parent).stream().filter(l -> !l.contains(AtomicOutput.TEMP_MARK)).toList(),
                    () -> "killed at " + fraction + " of " + size + " bytes: the previous output, byte for byte");
        }
        assertFalse(temporaries(parent).isEmpty(), "the killed runs left their temporaries");
        assertEquals(ExitCode.OK, CliTesting.run(args).exit(), "the rerun succeeds");
        assertEquals(contents, contents(destination), "the rerun writes the same output");
        assertEquals(List.of(w.name()), CliTesting.names(parent), "the rerun removes the killed runs' temporaries");
        assertEquals(inputDigest, treeDigest(input), "the input is unchanged");
    }

    /**
     * generate exporting the big model into its cache, killed at half and at nine tenths of the export: no
     * entry appears; the rerun exports the same entry, generates, and leaves no temporary in the cache.
     */
    @Test
    void sigkillDuringAnExportToTheCacheLeavesNoEntry() throws Exception {
        Path reference = tmp.resolve("reference-cache");
        Path cache = tmp.resolve("cache");
        Function<Path, String[]> generate = c -> new String[] {"generate", input.toString(), "--cache-dir", c.toString(),
            "--ids", "1,2,3", "--max-new-tokens", "1", "--threads", "1", "--device", "cpu"};
        assertEquals(ExitCode.OK, CliTesting.run(generate.apply(reference)).exit());
        long size = bytesUnder(List.of(reference.resolve("onnx")));
        Files.createDirectories(cache.resolve("onnx"));
        for (double fraction : new double[] {0.5, 0.9}) {
            killWhenWritten(cache.resolve("onnx"), (long) (fraction * size), generate.apply(cache));
            assertEquals(List.of(), CliTesting.names(cache.resolve("onnx")).stream()
                    .filter(n -> !n.contains(AtomicOutput.TEMP_MARK)).toList(), "no entry after a kill at " + fraction);
        }
        assertEquals(ExitCode.OK, CliTesting.run(generate.apply(cache)).exit(), "the rerun succeeds");
        assertEquals(treeDigest(reference.resolve("onnx")), treeDigest(cache.resolve("onnx")),
                "the same entry as an uninterrupted run, and no temporary beside it");
    }

    /** What an output holds: its files' SHA-256, or for an .arica file (which records when it was made) its tensors'. */
    private static List<String> contents(Path output) throws IOException {
        if (!output.toString().endsWith(".arica")) {
            return treeDigest(output);
        }
        try (AricaFile f = AricaFile.open(output)) {
            return f.entries().stream().map(e -> e.name() + " " + e.offset() + " " + e.length() + " " + e.crc32c()).toList();
        }
    }

    /**
     * Starts {@code args} in a child JVM and kills it (SIGKILL) once its temporaries in {@code dir} hold
     * {@code bytes}; fails if it ends first.
     */
    private void killWhenWritten(Path dir, long bytes, String... args) throws IOException, InterruptedException {
        Path log = tmp.resolve("child.log");
        Process p = new ProcessBuilder(javaCommand(args)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        String mine = AtomicOutput.TEMP_MARK + p.pid() + "-";
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (bytesUnder(temporaries(dir).stream().filter(t -> t.getFileName().toString().contains(mine)).toList()) < bytes) {
                if (!p.isAlive()) {
                    fail("the child ended (exit " + p.exitValue() + ") before its temporary held " + bytes + " bytes:\n"
                            + Files.readString(log));
                }
                if (System.nanoTime() > deadline) {
                    fail("the temporary did not reach " + bytes + " bytes within 60 s:\n" + Files.readString(log));
                }
                Thread.sleep(1);
            }
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the child JVM did not stop");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(128 + 9, p.exitValue(), "killed by SIGKILL");
    }
}
