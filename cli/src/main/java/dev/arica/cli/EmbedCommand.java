package dev.arica.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import dev.arica.runtime.encode.OnnxEncoder;
import dev.arica.runtime.encode.Pooling;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Encoding;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
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

/** {@code arica embed}: sentence embeddings from a transformer encoder, as sentence-transformers computes them. */
@Command(name = "embed", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Sentence embeddings from an encoder: the text is tokenized ([CLS] ... [SEP]), run through the model, "
                + "its last hidden state pooled (mean over the tokens, or the [CLS] row) and, with --normalize, scaled to unit "
                + "length: what sentence-transformers' encode() returns.",
                "MODEL is an encoder checkpoint (BERT, RoBERTa: HF directory, .arica), exported on the fly, its export, or any "
                        + "ONNX encoder with a last_hidden_state (or token_embeddings) output and its tokenizer.json beside it."})
final class EmbedCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "Encoder checkpoint, exported directory, or ONNX encoder file.")
    Path model;

    /** What to embed: one text, or a file of JSON strings. */
    static final class Input {
        @Option(names = "--text", required = true, paramLabel = "TEXT", description = "The text to embed.")
        String text;

        @Option(names = "--jsonl", required = true, paramLabel = "FILE",
                description = "Embed each line of FILE, a JSON string, printing one JSON object per line ('-': stdin).")
        Path jsonl;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--pooling", defaultValue = "mean", paramLabel = "KIND",
            description = "mean (over the tokens, padding excluded) or cls (the first row) (default: ${DEFAULT-VALUE}).")
    String pooling;

    @Option(names = "--normalize", negatable = true,
            description = "Scale the embedding to unit length (default: on for sentence-transformers models, which have "
                    + "modules.json; off otherwise).")
    Boolean normalize;

    @Option(names = "--json", description = "Print {\"embedding\": [...], \"tokens\": N} instead of a summary line.")
    boolean json;

    @Mixin
    RunOptions runOptions;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        runOptions.check();
        Pooling how = switch (pooling.toLowerCase(Locale.ROOT)) {
            case "mean" -> Pooling.MEAN;
            case "cls" -> Pooling.CLS;
            default -> throw AricaException.badInput("--pooling must be mean or cls, not '" + pooling + "'");
        };
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!EncoderInput.applies(model)) {
            throw AricaException.badInput(model + ": not an encoder (embed runs BERT and RoBERTa models and ONNX encoders); "
                    + "generate runs decoders");
        }
        try (EncoderInput in = EncoderInput.resolve(model, runOptions.tokenizerFile, runOptions.cache(), runOptions.exportOptions(),
                err);
             OnnxEncoder encoder = OnnxEncoder.open(in.onnx(), new InferenceSession.Options(runOptions.device,
                     runOptions.intraOpThreads(), 0))) {
            Tokenizer tokenizer = in.tokenizer().orElseThrow(() -> AricaException.badInput(model + ": no tokenizer found (looked "
                    + "for " + String.join(", ", Tokenizer.files()) + "); give one with --tokenizer FILE"));
            boolean unit = normalize != null ? normalize : in.sentenceTransformers();
            RunOptions.printDevice(encoder.session(), err);
            if (input.text != null) {
                print(out, embed(encoder, tokenizer, input.text, how, unit));
                return ExitCode.OK;
            }
            long start = System.nanoTime();
            int count = 0;
            try (BufferedReader r = input.jsonl.toString().equals("-") ? new BufferedReader(new java.io.InputStreamReader(System.in,
                    StandardCharsets.UTF_8)) : Files.newBufferedReader(input.jsonl)) {
                String line;
                int number = 0;
                while ((line = r.readLine()) != null) {
                    number++;
                    if (line.isBlank()) {
                        continue;
                    }
                    JsonNode text = JsonLines.parse(input.jsonl, number, line, JsonLines.Kind.STRING);
                    print(out, embed(encoder, tokenizer, text.textValue(), how, unit));
                    count++;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            err.println(String.format(Locale.ROOT, "arica: %d texts in %.2f s (%.1f embeddings/s)", count, seconds, count / seconds));
            err.flush();
        }
        return ExitCode.OK;
    }

    /** One text's embedding and its token count. */
    private record Embedded(float[] embedding, int tokens) {}

    private static Embedded embed(OnnxEncoder encoder, Tokenizer tokenizer, String text, Pooling how, boolean unit)
            throws IOException {
        Encoding e = tokenizer.encode(text, null, true);
        if (e.ids().length == 0) {
            throw AricaException.badInput("the text gives no tokens");
        }
        long[] ids = new long[e.ids().length];
        long[] types = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = e.ids()[i];
            types[i] = e.typeIds()[i];
        }
        float[] v = how.pool(encoder.hidden(ids, null, encoder.takesTokenTypes() ? types : null), null);
        return new Embedded(unit ? Pooling.normalize(v) : v, ids.length);
    }

    /** One JSON object with --json and for every --jsonl line, else a summary line. */
    private void print(PrintWriter out, Embedded e) throws IOException {
        if (json || input.jsonl != null) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            ArrayNode a = o.putArray("embedding");
            for (float x : e.embedding()) {
                a.add(x);
            }
            o.put("tokens", e.tokens());
            out.println(input.jsonl != null ? Json.ONE_LINE.writeValueAsString(o) : Json.MAPPER.writeValueAsString(o));
        } else {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < Math.min(6, e.embedding().length); i++) {
                b.append(String.format(Locale.ROOT, "%s%.5f", i == 0 ? "" : ", ", e.embedding()[i]));
            }
            out.printf(Locale.ROOT, "%d dimensions from %d tokens: [%s%s]%n", e.embedding().length, e.tokens(), b,
                    e.embedding().length > 6 ? ", ..." : "");
        }
        out.flush();
    }
}
