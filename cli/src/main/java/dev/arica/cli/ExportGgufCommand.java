package dev.arica.cli;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.io.ByteSize;
import dev.arica.quantize.GgufExporter;
import dev.arica.quantize.GgufExporter.TensorReport;
import dev.arica.quantize.QuantizationException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica export-gguf}: a Llama or Mistral checkpoint as a GGUF file for llama.cpp. */
@Command(name = "export-gguf", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Write a Llama or Mistral checkpoint as one GGUF file that llama.cpp runs: the llama architecture's "
                + "metadata, the tokenizer, q/k rows in GGML's rotary order. Streams; written atomically.",
                "Each tensor's type follows llama.cpp's rules for --type: norms stay f32; under q8_0/q4_0 a tensor whose "
                        + "rows are not whole blocks of 32 falls back to f16, and the output head is q8_0 under q4_0.",
                "q8_0/q4_0 are quantized with arica's GGML-exact quantizers: the blocks llama-quantize writes. The "
                        + "q8_0/q4_0 tensors of an .arica or GGUF file are written as stored, never requantized."})
final class ExportGgufCommand implements Callable<Integer> {

    /** The types --type accepts: llama.cpp's file types. */
    enum GgufType {
        f32(GgmlType.F32), f16(GgmlType.F16), q8_0(GgmlType.Q8_0), q4_0(GgmlType.Q4_0);

        final GgmlType type;

        GgufType(GgmlType type) {
            this.type = type;
        }
    }

    @Parameters(index = "0", paramLabel = "IN", description = "An HF Llama/Mistral directory, a .safetensors file with "
            + "config, a llama2.c .bin, an .arica or a GGUF file.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf", description = "The GGUF file to write "
            + "(an existing file is replaced).")
    Path output;

    @Option(names = "--type", paramLabel = "TYPE", description = "f32, f16, q8_0 or q4_0 (default: the type of an "
            + ".arica or GGUF file's stored q8_0/q4_0 tensors, each stored tensor keeping its own, else f16).")
    GgufType type;

    @Mixin
    TokenizerOption tokenizer;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: one per core).")
    Integer threads;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (threads != null && threads < 1) {
            throw AricaException.badInput("--threads must be at least 1, got " + threads);
        }
        GgufExporter.Options options = GgufExporter.Options.of(type == null ? null : type.type);
        if (threads != null) {
            options = new GgufExporter.Options(options.type(), threads);
        }
        GgufExporter.Result r;
        try (Checkpoint in = ModelInput.openCheckpoint(input, tokenizer.file)) {
            r = GgufExporter.export(in, output, options, ProgressPrinter.forStderr(spec.commandLine().getErr()));
        } catch (QuantizationException | FloatCast.UnsupportedCastException e) {
            throw new AricaException(ExitCode.BAD_INPUT, input + ": " + e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        String types = r.typeCounts().entrySet().stream().map(e -> e.getValue() + " " + name(e.getKey()))
                .collect(Collectors.joining(", "));
        out.printf("wrote %s: %s, %d tensors (%s), %s, tokenizer %s%n", r.output(), name(r.type()), r.tensors().size(),
                types, ByteSize.format(r.fileBytes()), r.tokenizer());
        // Tensors not of the requested type (1-D ones aside), grouped by why.
        Map<String, List<String>> why = new LinkedHashMap<>();
        for (TensorReport t : r.tensors()) {
            if (t.type() != r.type() && t.shape().length > 1) {
                why.computeIfAbsent(name(t.type()) + ": " + t.reason(), k -> new ArrayList<>()).add(t.name());
            }
        }
        why.forEach((reason, names) -> out.printf("  %s: %s%n", reason, names.size() <= 3 ? String.join(", ", names)
                : names.get(0) + " and " + (names.size() - 1) + " more"));
        out.flush();
        return ExitCode.OK;
    }

    private static String name(GgmlType t) {
        return t.name().toLowerCase(Locale.ROOT);
    }
}
