package dev.arica.cli;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.io.ByteSize;
import dev.arica.quantize.AricaDequantizer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica convert}: rewrite a checkpoint as safetensors, optionally casting its floating-point tensors. */
@Command(name = "convert", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Convert a checkpoint to a .safetensors file or an HF directory (decided by OUT's name).",
                "Floating-point tensors are cast with --dtype; others are copied. Written atomically.",
                "An .arica input is dequantized; its config and tokenizer are restored in a directory output.",
                "A GPTQ checkpoint is dequantized to float32 weights (exactly; --dtype casts them)."})
final class ConvertCommand implements Callable<Integer> {

    /** The float types --dtype accepts. */
    enum FloatType {
        f32(DType.F32), f16(DType.F16), bf16(DType.BF16);

        final DType dtype;

        FloatType(DType dtype) {
            this.dtype = dtype;
        }
    }

    @Parameters(index = "0", paramLabel = "IN", description = "A .safetensors file, an HF directory (GPTQ too), a PyTorch "
            + "file (torch.save: .bin, .pt), a GGUF file, a llama2.c .bin or an .arica file.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT",
            description = "Output: ending in .safetensors means one file, anything else an HF directory.")
    Path output;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Cast floating-point tensors to f32, f16 or bf16.")
    FloatType dtype;

    @Mixin
    ShardSizeOption maxShardSize;

    @Mixin
    TokenizerOption tokenizer;

    @Option(names = "--force", description = "Replace an existing output directory.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        long shard = maxShardSize.bytes();
        PrintWriter out = spec.commandLine().getOut();
        Converter.Options options = new Converter.Options(dtype == null ? null : dtype.dtype, shard, force);
        Converter.Result r;
        Progress progress = ProgressPrinter.forStderr(spec.commandLine().getErr());
        try {
            if (Files.isRegularFile(input) && AricaFile.looksLikeArica(input)) {
                try (AricaFile in = AricaFile.open(input)) {
                    r = AricaDequantizer.convert(in, output, options, progress);
                }
            } else {
                try (Checkpoint in = Checkpoint.open(input, tokenizer.file)) {
                    r = Converter.convert(in, output, options, progress);
                }
            }
        } catch (FloatCast.UnsupportedCastException e) {
            // The formats library names the tensor only; the user also needs the file.
            String m = e.getMessage();
            throw new AricaException(ExitCode.BAD_INPUT, m.startsWith(input.toString()) ? m : input + ": " + m, e);
        }
        out.printf("wrote %s: %d tensors, %s%s%n", r.output(), r.tensors(), ByteSize.format(r.bytes()),
                r.directory() ? ", " + r.shards() + (r.shards() == 1 ? " shard" : " shards") : "");
        out.flush();
        return ExitCode.OK;
    }
}
