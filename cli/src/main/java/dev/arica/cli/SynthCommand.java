package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.io.ByteSize;
import dev.arica.testdata.SyntheticAdapter;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticModel;
import java.io.PrintWriter;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arica synth}: write a deterministic synthetic checkpoint (Llama, or a family preset) for tests and benchmarks. */
@Command(name = "synth", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Write a deterministic synthetic Llama checkpoint (HF directory).",
                "Weights are N(0, 0.02) from a seeded generator, norms 1.0: the same options give the same bytes."})
final class SynthCommand implements Callable<Integer> {

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output directory.")
    Path output;

    @Option(names = "--preset", defaultValue = "tiny", paramLabel = "NAME",
            description = "tiny, tiny-gqa, tiny-untied, bench (2.2 GB f32), bench32, or gemma2-bench (a Gemma-2 of "
                    + "gemma-2-2b's shape, 2 layers, 3.1 GB f32) (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--layers", paramLabel = "N", description = "Override the preset's layer count.")
    Integer layers;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "f32, f16 or bf16 (default: the preset's, f32).")
    ConvertCommand.FloatType dtype;

    @Option(names = "--seed", paramLabel = "S", description = "Override the preset's seed.")
    Long seed;

    @Mixin
    ShardSizeOption maxShardSize;

    @Option(names = "--lora-for", paramLabel = "BASE",
            description = "Instead of a model, write a PEFT LoRA adapter for the checkpoint BASE (every projection of its "
                    + "layers; factors N(0, 0.02), alpha = 2 x rank) into -o, for tests and benchmarks of merge-lora.")
    Path loraFor;

    @Option(names = "--rank", paramLabel = "R", defaultValue = "16", description = "The adapter's rank (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--force", description = "Replace an existing non-empty output directory.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (loraFor != null) {
            return adapter();
        }
        Optional<SyntheticModel.Preset> family = familyPreset(preset);
        SyntheticLlama.Preset llama = family.isPresent() ? null : llamaPreset(preset);
        long shard = maxShardSize.bytes();
        if (layers != null && layers < 1) {
            throw AricaException.badInput("--layers must be at least 1");
        }
        // Like convert, replace what is at the output only when asked.
        if (!force && Files.isDirectory(output)) {
            try (Stream<Path> entries = Files.list(output)) {
                if (entries.findAny().isPresent()) {
                    throw new DirectoryNotEmptyException(output.toString());
                }
            }
        }
        String name;
        int written;
        long bytes;
        if (family.isPresent()) {
            ObjectNode config = family.get().config();
            if (layers != null) {
                config.put("num_hidden_layers", layers);
            }
            DType type = dtype != null ? dtype.dtype : DType.F32;
            config.put("torch_dtype", Converter.torchName(type));
            SyntheticModel.write(output, config, type, 0.02, seed != null ? seed : family.get().seed(), List.of(), shard,
                    ProgressPrinter.forStderr(spec.commandLine().getErr()));
            name = family.get().id();
            written = config.get("num_hidden_layers").asInt();
            bytes = SyntheticModel.tensors(config, type).stream().mapToLong(t -> t.byteSize()).sum();
        } else {
            SyntheticLlama.Spec s = llama.spec();
            if (layers != null) {
                s = s.withLayers(layers);
            }
            if (dtype != null) {
                s = s.withDtype(dtype.dtype);
            }
            if (seed != null) {
                s = s.withSeed(seed);
            }
            SyntheticLlama.write(output, s, shard, ProgressPrinter.forStderr(spec.commandLine().getErr()));
            name = llama.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
            written = s.layers();
            bytes = SyntheticLlama.tensors(s).stream().mapToLong(t -> t.byteSize()).sum();
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("wrote %s: %s, %d layers, %s%n", output, name, written, ByteSize.format(bytes));
        out.flush();
        return ExitCode.OK;
    }

    private static Optional<SyntheticModel.Preset> familyPreset(String name) {
        try {
            return Optional.of(SyntheticModel.Preset.parse(name));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static SyntheticLlama.Preset llamaPreset(String name) {
        try {
            return SyntheticLlama.Preset.parse(name);
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput("--preset: unknown preset '" + name
                    + "' (tiny, tiny-gqa, tiny-untied, bench, bench32, gemma2-bench)");
        }
    }

    private int adapter() throws Exception {
        if (rank < 1) {
            throw AricaException.badInput("--rank must be at least 1, not " + rank);
        }
        if (!force && Files.isDirectory(output)) {
            try (Stream<Path> entries = Files.list(output)) {
                if (entries.findAny().isPresent()) {
                    throw new DirectoryNotEmptyException(output.toString());
                }
            }
        }
        List<String> targets = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                "c_attn", "c_proj", "c_fc", "query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h");
        List<String> adapted;
        try (Checkpoint base = Checkpoint.open(loraFor)) {
            adapted = SyntheticAdapter.write(base, output, rank, 2.0 * rank, targets, 0.02, seed != null ? seed : 1);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("wrote %s: a rank-%d LoRA adapter of %d weights of %s%n", output, rank, adapted.size(), loraFor);
        out.flush();
        return ExitCode.OK;
    }
}
