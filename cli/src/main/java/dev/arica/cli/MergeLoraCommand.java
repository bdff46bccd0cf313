package dev.arica.cli;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.io.ByteSize;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.upscale.lora.AricaLoraMerge;
import dev.arica.upscale.lora.LoraMerge;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica merge-lora}: a base checkpoint with a PEFT LoRA adapter merged into its weights. */
@Command(name = "merge-lora", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Merge a PEFT LoRA adapter into a base checkpoint: W' = W + scaling * B @ A for every adapted "
                + "module (scaling = lora_alpha / r, or / sqrt(r) with rsLoRA; rank_pattern and alpha_pattern per module; "
                + "transposed for Conv1D and fan_in_fan_out), computed in float32 and written in the base's dtype "
                + "(or --dtype); modules_to_save replace the base's tensors; everything else is copied unchanged. "
                + "One weight at a time; written atomically like convert. Into an .arica BASE: the merged weights are "
                + "requantized with the file's layout (a table shows the cost: SNR and largest error per weight), "
                + "everything else copied as stored; --adapter on export-onnx/generate avoids the requantization."})
final class MergeLoraCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "BASE", description = "The base checkpoint: an HF directory or a .safetensors file.")
    Path base;

    @Parameters(index = "1", paramLabel = "ADAPTER_DIR",
            description = "The adapter: adapter_config.json and adapter_model.safetensors (or .bin).")
    Path adapterDir;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT",
            description = "Output: ending in .safetensors means one file, anything else an HF directory.")
    Path output;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Cast floating-point tensors to f32, f16 or bf16.")
    ConvertCommand.FloatType dtype;

    @Option(names = "--scale", paramLabel = "S", defaultValue = "1",
            description = "Multiplies every module's scaling (default: ${DEFAULT-VALUE}, the adapter's own).")
    double scale;

    @Mixin
    ShardSizeOption maxShardSize;

    @Option(names = "--force", description = "Replace an existing output directory.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Double.isFinite(scale)) {
            throw AricaException.badInput("--scale must be a finite number, not " + scale);
        }
        long shard = maxShardSize.bytes();
        Progress progress = ProgressPrinter.forStderr(spec.commandLine().getErr());
        PrintWriter out = spec.commandLine().getOut();
        if (Files.isRegularFile(base) && AricaFile.looksLikeArica(base)) {
            return mergeIntoArica(progress, out);
        }
        Converter.Result r;
        int merged;
        try (Checkpoint in = Checkpoint.open(base); LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
            LoraMerge m = LoraMerge.of(in, adapter, scale);
            merged = m.merged().size();
            r = Converter.convert(m, output, new Converter.Options(dtype == null ? null : dtype.dtype, shard, force), progress);
        }
        out.printf("wrote %s: %d tensors, %d merged with %s, %s%n", r.output(), r.tensors(), merged, adapterDir,
                ByteSize.format(r.bytes()));
        out.flush();
        return ExitCode.OK;
    }

    /** An .arica base: merged weights requantized with the file's layout, the rest copied as stored. */
    private int mergeIntoArica(Progress progress, PrintWriter out) throws Exception {
        if (!output.getFileName().toString().endsWith(".arica")) {
            throw AricaException.badInput("-o " + output + ": merging into an .arica file writes an .arica file");
        }
        if (dtype != null) {
            throw AricaException.badInput("--dtype does not apply to an .arica base: its layout is kept");
        }
        List<AricaLoraMerge.Requantized> report;
        try (AricaFile file = AricaFile.open(base); AricaCheckpoint in = AricaCheckpoint.open(base);
                LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
            report = AricaLoraMerge.write(file, LoraMerge.of(in, adapter, scale), output, progress);
        }
        int width = Math.max(4, report.stream().mapToInt(r -> r.name().length()).max().orElse(4));
        out.printf(Locale.ROOT, "%-" + width + "s  %-14s  %8s  %10s%n", "NAME", "STORAGE", "SNR dB", "MAX |ERR|");
        for (AricaLoraMerge.Requantized r : report) {
            out.printf(Locale.ROOT, "%-" + width + "s  %-14s  %8s  %10s%n", r.name(), r.storage(),
                    r.error() == null ? "-" : String.format(Locale.ROOT, "%.1f", r.error().snrDb()),
                    r.error() == null ? "-" : String.format(Locale.ROOT, "%.3g", r.error().maxAbsError()));
        }
        out.printf("wrote %s: %d weights merged with %s and requantized, the other tensors copied as stored%n", output,
                report.size(), adapterDir);
        out.flush();
        return ExitCode.OK;
    }
}
