package dev.arica.cli;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.io.ByteSize;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.runtime.export.OnnxExporter;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica export-onnx}: a Llama checkpoint as an ONNX decoder with KV cache, ready for ONNX Runtime. */
@Command(name = "export-onnx", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Export a Llama checkpoint (or an .arica file, its quantized weights as stored) as an ONNX decoder.",
                "The decoder has a key/value cache and uses standard operators (opset 17), or ONNX Runtime's fused "
                        + "operators with --ort-optimized. OUT_DIR receives model.onnx, model.onnx.data, config.json, "
                        + "generation_config.json, the tokenizer files and arica-genai.json. Weights stream from the input; "
                        + "the directory appears only when complete.",
                "An .arica file's quantized projections become ONNX Runtime MatMulNBits nodes fed with the stored codes, "
                        + "repacked, never requantized (or DequantizeLinear + MatMul, opset 21, with --portable)."})
final class ExportOnnxCommand implements Callable<Integer> {

    /** The weight types --dtype accepts. */
    enum WeightType {
        f32(DType.F32), f16(DType.F16);

        final DType dtype;

        WeightType(DType dtype) {
            this.dtype = dtype;
        }
    }

    @Parameters(index = "0", paramLabel = "IN", description = "An HF Llama directory, a .safetensors file with config, a llama2.c .bin, a GGUF file (its Q8_0/Q4_0 "
            + "weights run as stored), or an .arica file.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT_DIR", description = "Output directory.")
    Path output;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "f32",
            description = "Weights as f32 or f16 (cast to float32 in the graph; activations stay float32) (default: ${DEFAULT-VALUE}).")
    WeightType dtype;

    @Option(names = "--ort-optimized", description = "Use ONNX Runtime's fused operators (GroupQueryAttention, "
            + "RotaryEmbedding, SkipSimplifiedLayerNormalization, ...): faster in ONNX Runtime, which alone runs it. Same "
            + "inputs and outputs.")
    boolean ortOptimized;

    @Option(names = "--portable", description = "For an .arica input: quantized weights as standard DequantizeLinear "
            + "(opset 21) + MatMul instead of ONNX Runtime's MatMulNBits, for runtimes without contrib operators.")
    boolean portable;

    @Option(names = "--accuracy-level", paramLabel = "L", defaultValue = "4",
            description = "For an .arica or GGUF input: MatMulNBits accuracy_level, 4 (activations quantized to int8 for integer "
                    + "dot products, as llama.cpp does: fast) or 0 (float32 compute with the stored values exactly: slow "
                    + "for 8-bit weights on the CPU) (default: ${DEFAULT-VALUE}).")
    int accuracyLevel;

    @Mixin
    TokenizerOption tokenizer;

    @Mixin
    AdapterOption adapterOption;

    @Option(names = "--force", description = "Replace an existing output directory.")
    boolean force;

    @Spec
    CommandSpec spec;

    private int level() {
        RunOptions.checkAccuracyLevel(accuracyLevel);
        if (accuracyLevel != OnnxExporter.DEFAULT_ACCURACY_LEVEL && portable) {
            throw AricaException.badInput("--accuracy-level applies to MatMulNBits, not to --portable");
        }
        return accuracyLevel;
    }

    @Override
    public Integer call() throws Exception {
        OnnxExporter.Flavour flavour = ortOptimized ? OnnxExporter.Flavour.ORT_OPTIMIZED
                : OnnxExporter.Flavour.STANDARD;
        OnnxExporter.Options options = OnnxExporter.Options.defaults().withWeightType(dtype.dtype)
                .withFlavour(flavour).withReplace(force).withPortable(portable).withAccuracyLevel(level());
        OnnxExporter.Result r;
        try (Checkpoint in = ModelInput.openCheckpoint(input, tokenizer.file); LoraAdapter adapter = adapterOption.open()) {
            r = OnnxExporter.export(in, output, options.withAdapter(adapter),
                    ProgressPrinter.forStderr(spec.commandLine().getErr()));
        } catch (FloatCast.UnsupportedCastException e) {
            throw new AricaException(ExitCode.BAD_INPUT, input + ": " + e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("wrote %s: %d layers, %d nodes, %d weights (%s, %s), %s graph%s%n", r.directory(), r.config().layers(),
                r.nodes(), r.weights(), r.quantization().isEmpty() ? dtype.name() : dtype.name() + " floats",
                ByteSize.format(r.weightBytes()), flavour.id, r.quantization().isEmpty() ? "" : "; quantized: " + r.quantization());
        out.flush();
        return ExitCode.OK;
    }
}
