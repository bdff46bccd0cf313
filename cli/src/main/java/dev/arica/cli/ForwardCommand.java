package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.npy.NpyFloatWriter;
import dev.arica.runtime.encode.OnnxEncoder;
import dev.arica.runtime.generate.ForwardPass;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Encoding;
import dev.arica.runtime.tokenizer.Tokenizer;
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
                "MODEL is anything generate runs: an exported directory, an HF Llama directory, a llama2.c .bin, a GGUF "
                        + "or an .arica file, exported to ONNX on the fly when needed; or an encoder (BERT, RoBERTa, any ONNX "
                        + "encoder): then --values says whether its masked-LM logits or its last hidden state are written, "
                        + "and --attention-mask / --token-type-ids are fed with the ids."})
final class ForwardCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "Exported ONNX directory (or its model.onnx), HF Llama directory, llama2.c .bin, GGUF or .arica file.")
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

    @Option(names = "--values", paramLabel = "KIND",
            description = "An encoder's output to write: logits (the masked-LM head's, the default where there is one) or "
                    + "hidden (last_hidden_state, [positions, hidden]).")
    String values;

    @Option(names = "--attention-mask", paramLabel = "LIST",
            description = "An encoder's attention mask, one 0 or 1 per id, e.g. 1,1,0 (default: all ones).")
    String attentionMask;

    @Option(names = "--token-type-ids", paramLabel = "LIST",
            description = "An encoder's token type (segment) ids, one per id, e.g. 0,0,1 (default: all zeros).")
    String tokenTypes;

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
        if (EncoderInput.applies(model)) {
            return encoder(givenIds, err);
        }
        if (values != null || attentionMask != null || tokenTypes != null) {
            throw AricaException.badInput("--values, --attention-mask and --token-type-ids apply to encoders; " + model
                    + " is a decoder");
        }
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
            print(ids, argmax, vocab, "logits");
        }
        return ExitCode.OK;
    }

    /** An encoder's logits or last hidden state over the sequence, in one run. */
    private int encoder(int[] givenIds, PrintWriter err) throws IOException {
        try (LoraAdapter adapter = adapterOption.open()) {
            if (adapter != null) {
                throw AricaException.badInput("--adapter applies to decoders; " + model + " is an encoder");
            }
        }
        try (EncoderInput in = EncoderInput.resolve(model, runOptions.tokenizerFile, runOptions.cache(), runOptions.exportOptions(),
                err);
             OnnxEncoder encoder = OnnxEncoder.open(in.onnx(), new InferenceSession.Options(runOptions.device,
                     runOptions.intraOpThreads(), 0));
             AtomicOutput out = AtomicOutput.file(output)) {
            long[] ids;
            long[] types = null;
            if (givenIds != null) {
                ids = java.util.Arrays.stream(givenIds).asLongStream().toArray();
            } else {
                Tokenizer t = in.tokenizer().orElseThrow(() -> AricaException.badInput(model + ": no tokenizer; give --ids or "
                        + "--tokenizer FILE"));
                Encoding e = t.encode(sequence.text, null, true);
                ids = java.util.Arrays.stream(e.ids()).asLongStream().toArray();
                types = java.util.Arrays.stream(e.typeIds()).asLongStream().toArray();
            }
            long[] mask = attentionMask == null ? null : longs("--attention-mask", attentionMask, ids.length);
            if (tokenTypes != null) {
                types = longs("--token-type-ids", tokenTypes, ids.length);
            }
            String kind = values != null ? values : encoder.hasLogits() ? "logits" : "hidden";
            if (!kind.equals("logits") && !kind.equals("hidden")) {
                throw AricaException.badInput("--values must be logits or hidden, not '" + kind + "'");
            }
            if (kind.equals("logits") && !encoder.hasLogits()) {
                throw AricaException.badInput(model + " has no masked-LM head: use --values hidden");
            }
            // Refused before the device line: a bad option is the only thing said.
            long[] fed = encoder.takesTokenTypes() ? types : zerosOrRefuse(types);
            RunOptions.printDevice(encoder.session(), err);
            long start = System.nanoTime();
            OnnxEncoder.Output o;
            try {
                o = encoder.run(ids, mask, fed);
            } catch (IllegalArgumentException e) {
                throw AricaException.badInput(e.getMessage());
            }
            long took = System.nanoTime() - start;
            float[][] rows = kind.equals("logits") ? o.logits() : o.hidden();
            int[] argmax = new int[rows.length];
            try (NpyFloatWriter npy = NpyFloatWriter.create(out.temp(), rows.length, rows[0].length)) {
                for (int i = 0; i < rows.length; i++) {
                    npy.writeRow(rows[i]);
                    argmax[i] = Sampler.argmax(rows[i]);
                }
                npy.finish();
            }
            out.commit();
            err.println(String.format(Locale.ROOT, "arica: %d positions in %.3f s", ids.length, took / 1e9));
            err.flush();
            print(java.util.Arrays.stream(ids).mapToInt(Math::toIntExact).toArray(), argmax, rows[0].length, kind.equals("logits") ? "logits" : "last hidden state");
        }
        return ExitCode.OK;
    }

    /** Token types for a model without that input: all zeros is what it computes anyway; others are refused. */
    private long[] zerosOrRefuse(long[] types) {
        if (types != null && java.util.Arrays.stream(types).anyMatch(t -> t != 0)) {
            throw AricaException.badInput(model + " has one segment (no token_type_ids input): token types must be 0");
        }
        return null;
    }

    /** A comma-separated list of {@code n} integers given to {@code option}. */
    private static long[] longs(String option, String list, int n) {
        int[] v = TokenIds.parse(option, list);
        if (v.length != n) {
            throw AricaException.badInput(option + " has " + v.length + " values for " + n + " ids");
        }
        return java.util.Arrays.stream(v).asLongStream().toArray();
    }

    /** The summary line (or --json object) of {@code what} was written: [positions, width]. */
    private void print(int[] ids, int[] argmax, int vocab, String what) throws IOException {
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
            out.printf(Locale.ROOT, "%s: %s of %d positions x %d, float32 (%d bytes)%n", output, what, ids.length, vocab,
                    Files.size(output));
        }
        out.flush();
    }
}
