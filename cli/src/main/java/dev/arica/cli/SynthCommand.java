package dev.arica.cli;

import dev.arica.formats.ByteSize;
import dev.arica.formats.DType;
import dev.arica.testdata.SyntheticLlama;
import java.io.PrintWriter;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arica synth}: write a deterministic synthetic Llama checkpoint for tests, demos and benchmarks. */
@Command(name = "synth", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Write a deterministic synthetic Llama checkpoint (HF directory).",
                "Weights are N(0, 0.02) from a seeded generator, norms 1.0: the same options give the same bytes."})
final class SynthCommand implements Callable<Integer> {

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output directory.")
    Path output;

    @Option(names = "--preset", defaultValue = "tiny", paramLabel = "NAME",
            description = "tiny, tiny-gqa, tiny-untied, bench (2.2 GB f32) or bench32 (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--layers", paramLabel = "N", description = "Override the preset's layer count.")
    Integer layers;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "f32, f16 or bf16 (default: the preset's, f32).")
    ConvertCommand.FloatType dtype;

    @Option(names = "--seed", paramLabel = "S", description = "Override the preset's seed.")
    Long seed;

    @Option(names = "--max-shard-size", paramLabel = "SIZE", defaultValue = "5GB",
            description = "Largest shard (default: ${DEFAULT-VALUE}).")
    String maxShardSize;

    @Option(names = "--force", description = "Replace an existing non-empty output directory.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        SyntheticLlama.Preset p;
        try {
            p = SyntheticLlama.Preset.parse(preset);
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput("--preset: unknown preset '" + preset + "' (tiny, tiny-gqa, tiny-untied, bench, bench32)");
        }
        SyntheticLlama.Spec s = p.spec();
        if (layers != null) {
            if (layers < 1) {
                throw AricaException.badInput("--layers must be at least 1");
            }
            s = s.withLayers(layers);
        }
        if (dtype != null) {
            s = s.withDtype(dtype.dtype);
        }
        if (seed != null) {
            s = s.withSeed(seed);
        }
        long shard;
        try {
            shard = ByteSize.parse(maxShardSize);
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput("--max-shard-size: " + e.getMessage());
        }
        // SyntheticLlama.write replaces whatever is at the output; like convert, do that only when asked.
        if (!force && Files.isDirectory(output)) {
            try (Stream<Path> entries = Files.list(output)) {
                if (entries.findAny().isPresent()) {
                    throw new DirectoryNotEmptyException(output.toString());
                }
            }
        }
        SyntheticLlama.write(output, s, shard, ProgressPrinter.forStderr(spec.commandLine().getErr()));
        long bytes = SyntheticLlama.tensors(s).stream().mapToLong(t -> t.byteSize()).sum();
        PrintWriter out = spec.commandLine().getOut();
        out.printf("wrote %s: %s, %d layers, %s%n", output, p.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'),
                s.layers(), ByteSize.format(bytes));
        out.flush();
        return ExitCode.OK;
    }
}
