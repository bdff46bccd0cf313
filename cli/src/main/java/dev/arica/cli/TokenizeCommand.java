package dev.arica.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.runtime.tokenizer.DecodeOptions;
import dev.arica.runtime.tokenizer.Encoding;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica tokenize}: text to ids and tokens, or ids to text, with a model's tokenizer; one or many at a time. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Encode text to token ids and tokens (--text, or --jsonl FILE with one JSON string per line), or "
                        + "decode ids to text (--decode LIST, or --decode-jsonl FILE with one JSON array of ids per line).",
                "The tokenizer is MODEL's (a model directory, or a file in one) or --tokenizer FILE: a tokenizer.json, a "
                        + "llama2.c tokenizer .bin, an Aricate vocab.json, or a model directory. See docs/tokenizers.md."})
final class TokenizeCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL",
            description = "Model directory (HF checkpoint, exported ONNX directory, Aricate model), or a file in one.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "Tokenizer instead of MODEL's: tokenizer.json, llama2.c tokenizer .bin, Aricate vocab.json, or a "
                    + "model directory.")
    Path tokenizerFile;

    /** What to do: encode or decode, one or a file of many. */
    static final class Mode {
        @Option(names = "--text", required = true, paramLabel = "TEXT", description = "Text to encode (may be empty).")
        String text;

        @Option(names = "--decode", required = true, paramLabel = "LIST",
                description = "Token ids to decode, separated by commas, e.g. 101,7592,102.")
        String ids;

        @Option(names = "--jsonl", required = true, paramLabel = "FILE",
                description = "Encode every line of FILE, a JSON string each; prints one JSON object per line.")
        Path jsonl;

        @Option(names = "--decode-jsonl", required = true, paramLabel = "FILE",
                description = "Decode every line of FILE, a JSON array of ids each; prints one JSON object per line.")
        Path decodeJsonl;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Mode mode;

    @Option(names = "--pair", paramLabel = "TEXT",
            description = "With --text: the second sequence of a pair (type ids are printed too).")
    String pair;

    @Option(names = "--no-special-tokens",
            description = "Encode without the special tokens the tokenizer adds ([CLS] ... [SEP], BOS, a template's).")
    boolean noSpecialTokens;

    @Option(names = "--skip-special-tokens",
            description = "Decode without special tokens (default: they are written out, as transformers' decode does).")
    boolean skipSpecialTokens;

    @Option(names = "--json", description = "Print a JSON object: {\"ids\": [...], \"tokens\": [...]} or {\"text\": ...}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        boolean decoding = mode.ids != null || mode.decodeJsonl != null;
        if (pair != null && mode.text == null) {
            throw AricaException.badInput("--pair goes with --text");
        }
        if (decoding && noSpecialTokens) {
            throw AricaException.badInput("--no-special-tokens is for encoding; to leave them out of decoded text use "
                    + "--skip-special-tokens");
        }
        if (!decoding && skipSpecialTokens) {
            throw AricaException.badInput("--skip-special-tokens is for decoding (--decode, --decode-jsonl); to encode "
                    + "without them use --no-special-tokens");
        }
        Tokenizer tokenizer = tokenizer();
        PrintWriter out = spec.commandLine().getOut();
        DecodeOptions options = DecodeOptions.of(tokenizer, skipSpecialTokens);
        if (mode.text != null) {
            Encoding e = tokenizer.encode(mode.text, pair, !noSpecialTokens);
            out.println(TokenizeOutput.encoding(e.ids(), tokens(tokenizer, e.ids()), pair == null ? null : e.typeIds(), json));
        } else if (mode.ids != null) {
            int[] ids = checked(tokenizer, TokenIds.parse("--decode", mode.ids), "--decode");
            out.println(TokenizeOutput.text(tokenizer.decode(ids, options), json));
        } else if (mode.jsonl != null) {
            // Every line is read and checked before anything is printed: bad input leaves stdout empty.
            List<String> texts = new ArrayList<>();
            for (JsonNode line : lines(mode.jsonl)) {
                texts.add(line.textValue());
            }
            for (String text : texts) {
                int[] ids = tokenizer.encode(text, null, !noSpecialTokens).ids();
                out.println(TokenizeOutput.encoding(ids, tokens(tokenizer, ids), null, true));
            }
        } else {
            List<int[]> all = new ArrayList<>();
            List<JsonNode> lines = lines(mode.decodeJsonl);
            for (int i = 0; i < lines.size(); i++) {
                all.add(checked(tokenizer, ids(lines.get(i), mode.decodeJsonl, i + 1), mode.decodeJsonl + ":" + (i + 1)));
            }
            for (int[] ids : all) {
                out.println(TokenizeOutput.text(tokenizer.decode(ids, options), true));
            }
        }
        out.flush();
        return ExitCode.OK;
    }

    private Tokenizer tokenizer() throws IOException {
        if ((model == null) == (tokenizerFile == null)) {
            throw AricaException.badInput(model == null ? "give a MODEL or --tokenizer FILE"
                    : "give a MODEL or --tokenizer FILE, not both");
        }
        if (tokenizerFile != null) {
            return Tokenizer.open(tokenizerFile);
        }
        Path dir = Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
        if (!Files.exists(model)) {
            throw AricaException.badInput(model + ": no such file or directory");
        }
        if (!Tokenizer.presentIn(dir)) {
            throw AricaException.badInput(dir + ": no tokenizer (looked for " + String.join(", ", Tokenizer.files())
                    + "); give one with --tokenizer FILE");
        }
        return Tokenizer.open(dir);
    }

    /** The vocabulary entry of each id, as text. */
    private static List<String> tokens(Tokenizer tokenizer, int[] ids) {
        return Arrays.stream(ids).mapToObj(id -> new String(tokenizer.tokenBytes(id), StandardCharsets.UTF_8)).toList();
    }

    private static int[] checked(Tokenizer tokenizer, int[] ids, String where) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= tokenizer.vocabSize()) {
                throw AricaException.badInput(where + ": id " + ids[i] + " (item " + (i + 1) + ") is outside the tokenizer's "
                        + "vocabulary of " + tokenizer.vocabSize() + " (ids 0 to " + (tokenizer.vocabSize() - 1) + ")");
            }
        }
        return ids;
    }

    /** Every line of {@code file} as JSON: strings for --jsonl, arrays for --decode-jsonl; refused in one line. */
    private List<JsonNode> lines(Path file) throws IOException {
        List<String> text;
        try {
            text = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw AricaException.badInput(file + ": is not UTF-8 text");
        }
        JsonLines.Kind kind = mode.jsonl != null ? JsonLines.Kind.STRING : JsonLines.Kind.ARRAY;
        List<JsonNode> out = new ArrayList<>(text.size());
        for (int i = 0; i < text.size(); i++) {
            out.add(JsonLines.parse(file, i + 1, text.get(i), kind));
        }
        return out;
    }

    private static int[] ids(JsonNode array, Path file, int line) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = array.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
                throw AricaException.badInput(file + ":" + line + ": item " + (i + 1) + " (" + v + ") is not a token id");
            }
            ids[i] = v.intValue();
        }
        return ids;
    }
}
