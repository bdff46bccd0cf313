package dev.arica.cli;

import dev.arica.formats.io.AtomicOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The training run of the JVM's ahead-of-time cache (JEP 483/515), run once by the build: the file commands on small
 * models, so that a later {@code arica} process starts with their classes loaded and linked and their kernels'
 * profiles known, instead of spending a third of a short run in class loading and JIT warm-up (docs/BENCHMARKS.md,
 * issue 17). Arguments: the bundled test models' directory and a scratch directory (emptied).
 */
public final class StartupTraining {
    private StartupTraining() {}

    /** Rounds of the quantizing commands: enough calls for the JIT to profile and compile the kernels. */
    private static final int ROUNDS = 4;

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: StartupTraining MODELS_DIR SCRATCH_DIR");
        }
        Path models = Path.of(args[0]);
        Path s = Path.of(args[1]);
        AtomicOutput.deleteRecursively(s);
        Files.createDirectories(s);
        String tiny = s.resolve("tiny").toString();
        String stories = models.resolve("stories260K/stories260K.bin").toString();
        String hf = s.resolve("stories-hf").toString();
        List<List<String>> commands = new ArrayList<>();
        commands.add(List.of("synth", "--preset", "tiny-gqa", "-o", tiny));
        commands.add(List.of("convert", stories, "-o", hf));
        commands.add(List.of("inspect", tiny));
        for (int round = 0; round < ROUNDS; round++) {
            for (String scheme : List.of("q4_0", "q8_0", "int4", "int8")) {
                String out = s.resolve(scheme + "-" + round + ".arica").toString();
                commands.add(List.of("quantize", tiny, "-o", out, "--scheme", scheme, "--quantize-head",
                        "--quantize-embeddings"));
            }
            commands.add(List.of("quantize", hf, "-o", s.resolve("stories-q4_0-" + round + ".arica").toString(),
                    "--scheme", "q4_0"));
            commands.add(List.of("convert", tiny, "-o", s.resolve("f16-" + round).toString(), "--dtype", "f16"));
            commands.add(List.of("upscale", tiny, "-o", s.resolve("up-" + round).toString(), "--drop", "1"));
        }
        commands.add(List.of("inspect", s.resolve("q4_0-0.arica").toString()));
        commands.add(List.of("export-gguf", s.resolve("q4_0-0.arica").toString(), "-o",
                s.resolve("q4_0.gguf").toString()));
        PrintWriter quiet = new PrintWriter(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        for (List<String> c : commands) {
            StringWriter err = new StringWriter();
            String[] line = c.toArray(String[]::new);
            int rc = Cli.commandLine(quiet, new PrintWriter(err, true), line).execute(line);
            if (rc != 0) {
                // A failing step would train the cache on an error path: the build says so instead.
                throw new IllegalStateException("arica " + String.join(" ", c) + " exited " + rc + ": " + err);
            }
        }
        AtomicOutput.deleteRecursively(s);
    }
}
