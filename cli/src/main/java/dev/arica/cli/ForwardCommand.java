package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.npy.NpyFloatWriter;
import dev.arica.runtime.generate.ForwardPass;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica forward}: the logits of a model at every position of a sequence, as a NumPy .npy file. */
@Command(name = "forward", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Run a model once over a sequence (--ids LIST, or --text TEXT encoded with the beginning-of-sequence "
                + "token) and write its logits at every position to OUT.npy: float32, shape [positions, vocab], C order, "
                + "for comparisons with other implementations.",
                "MODEL is anything generate runs: an exported directory, an HF Llama directory, a llama2.c .bin or an "
                        + ".arica file, exported to ONNX on the fly when needed."})
final class ForwardCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "Exported ONNX directory (or its model.onnx), HF Llama directory, llama2.c .bin, or .arica file.")
    Path model;

    /** The sequence: token ids as they are, or text to encode. */
    static final class Sequence {
        @Option(names = "--ids", required = true, paramLabel = "LIST",
                description = "Token ids separated by commas, e.g. 1,403,407, fed as they are (no beginning-of-sequence id "
                        + "added); the model needs no tokenizer.")
        String ids;

        @Option(names = "--text", required = true, paramLabel = "TEXT",
                description = "Text, encoded with the model's tokenizer, beginning-of-sequence id first.")
        String text;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Sequence sequence;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.npy",
            description = "The .npy file to write (replaced when it exists; written under a temporary name, renamed when complete).")
    Path output;

    @Mixin
    AdapterOption adapterOption;

    @Mixin
    RunOptions runOptions;

    @Option(names = "--json", description = "Print one JSON object: positions, vocab, ids, argmax per position, output.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        runOptions.check();
        int[] givenIds = sequence.ids == null ? null : TokenIds.parse("--ids", sequence.ids);
        PrintWriter err = spec.commandLine().getErr();
        try (LoraAdapter adapter = adapterOption.open(); AtomicOutput out = AtomicOutput.file(output);
             ModelInput input = runOptions.resolve(model, givenIds == null, adapter, err)) {
            int[] ids = givenIds == null ? input.encode(sequence.text) : TokenIds.check("--ids", givenIds, input.config());
            int vocab = input.config().vocabSize();
            int[] argmax = new int[ids.length];
            long took;
            try (OnnxDecoder decoder = runOptions.decoder(input, runOptions.device);
                 NpyFloatWriter npy = NpyFloatWriter.create(out.temp(), ids.length, vocab)) {
                RunOptions.printDevice(decoder.session(), err);
                long start = System.nanoTime();
                // Each row goes to the file as it comes: one chunk's logits are held at a time, never [positions, vocab].
                ForwardPass.run(decoder, ids, (i, logits) -> {
                    npy.writeRow(logits);
                    argmax[i] = Sampler.argmax(logits);
                });
                took = System.nanoTime() - start;
                npy.finish();
            }
            out.commit();
            err.println(String.format(Locale.ROOT, "arica: %d positions in %.3f s (%.1f tok/s)", ids.length, took / 1e9,
                    ids.length / (took / 1e9)));
            err.flush();
            print(ids, argmax, vocab);
        }
        return ExitCode.OK;
    }

    private void print(int[] ids, int[] argmax, int vocab) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("positions", ids.length);
            o.put("vocab", vocab);
            TokenIds.add(o.putArray("ids"), ids);
            TokenIds.add(o.putArray("argmax"), argmax);
            o.put("output", output.toString());
            out.println(Json.MAPPER.writeValueAsString(o));
        } else {
            out.printf(Locale.ROOT, "%s: logits of %d positions x %d, float32 (%d bytes)%n", output, ids.length, vocab,
                    Files.size(output));
        }
        out.flush();
    }
}
