package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertNoTemporaries;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.testdata.SyntheticLlama;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

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
}
