package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Aricate word tokenizer ({@code vocab.json} + {@code tokenizer_config.json} naming
 * {@code AricateWordTokenizer}). Encoding lowercases the text (Unicode full mapping) and takes, left to
 * right, {@code <sep>}, {@code <eos>}, runs of {@code [a-z0-9']}, or any other single non-space character
 * (space as Python's {@code str.isspace()}), each looked up in the vocabulary ({@code <unk>} when absent);
 * nothing is added at either end. Decoding skips {@code <pad>}, {@code <unk>} and {@code <eos>}, writes
 * {@code <sep>} as " <sep> ", and puts a space before a word unless the text is empty, ends with a space,
 * or the word is one punctuation character.
 */
public final class AricateWordTokenizer implements Tokenizer {
    public static final String VOCAB_FILE = "vocab.json";
    public static final String CONFIG_FILE = "tokenizer_config.json";
    public static final String CLASS_NAME = "AricateWordTokenizer";
    public static final String PAD = "<pad>", UNK = "<unk>", SEP = "<sep>", EOS = "<eos>";

    private final String[] tokens;
    private final Map<String, Integer> ids;
    private final boolean[] punctuation;
    private final boolean lowercase;
    private final int pad, unk, sep, eos;

    private AricateWordTokenizer(String[] tokens, Map<String, Integer> ids, boolean lowercase) {
        this.tokens = tokens;
        this.ids = ids;
        this.lowercase = lowercase;
        this.pad = ids.get(PAD);
        this.unk = ids.get(UNK);
        this.sep = ids.get(SEP);
        this.eos = ids.get(EOS);
        this.punctuation = new boolean[tokens.length];
        for (int id = 0; id < tokens.length; id++) {
            String t = tokens[id];
            punctuation[id] = t.codePointCount(0, t.length()) == 1 && !wordChar(t.codePointAt(0)) && !special(id);
        }
    }

    /** True when {@code dir} has a vocab.json and a tokenizer_config.json that names this tokenizer. */
    static boolean isDirectory(Path dir) {
        Path config = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(dir.resolve(VOCAB_FILE)) || !Files.isRegularFile(config)) {
            return false;
        }
        try {
            return CLASS_NAME.equals(Json.readObjectFile(config).path("tokenizer_class").asText(null));
        } catch (IOException e) {
            return false;
        }
    }

    /** True for a file {@link Tokenizer#open} reads as this tokenizer's vocabulary: one named vocab.json. */
    static boolean isVocabulary(Path file) {
        return file.getFileName() != null && file.getFileName().toString().equals(VOCAB_FILE);
    }

    /**
     * Reads {@code vocab.json} and, when present beside it, {@code tokenizer_config.json} (which must name
     * this tokenizer; its {@code lowercase} defaults to true). Ids must be 0..V-1, each used once, and the
     * four special tokens present; any problem is a one-line FormatException naming the file.
     */
    public static AricateWordTokenizer read(Path vocabFile) throws IOException {
        boolean lowercase = true;
        Path configFile = vocabFile.toAbsolutePath().resolveSibling(CONFIG_FILE);
        if (Files.isRegularFile(configFile)) {
            ObjectNode config = Json.readObjectFile(configFile);
            TokenizerJson cj = new TokenizerJson(configFile);
            String cls = cj.optionalText(config, "tokenizer_class", "tokenizer_config");
            if (cls != null && !cls.equals(CLASS_NAME)) {
                throw new FormatException(configFile, "names tokenizer_class '" + cls + "'; a " + VOCAB_FILE
                        + " is read only as an " + CLASS_NAME + " vocabulary");
            }
            lowercase = cj.bool(config, "lowercase", true, "tokenizer_config");
        }
        ObjectNode root = Json.readObjectFile(vocabFile);
        TokenizerJson json = new TokenizerJson(vocabFile);
        Map<String, Integer> ids = new HashMap<>(2 * root.size());
        String[] tokens = new String[root.size()];
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String where = "'" + e.getKey() + "'";
            int id = json.nonNegativeInt(e.getValue(), where);
            if (e.getKey().isEmpty()) {
                throw json.error("the empty token", "is not a word");
            }
            if (id >= tokens.length) {
                throw json.error(where, "has id " + id + ", outside 0.." + (tokens.length - 1) + " for " + tokens.length + " tokens");
            }
            if (tokens[id] != null) {
                throw json.error("id " + id, "is given to both '" + tokens[id] + "' and '" + e.getKey() + "'");
            }
            tokens[id] = e.getKey();
            ids.put(e.getKey(), id);
        }
        for (String s : List.of(PAD, UNK, SEP, EOS)) {
            if (!ids.containsKey(s)) {
                throw json.error("the vocabulary", "has no " + s + " (it needs " + PAD + ", " + UNK + ", " + SEP + " and " + EOS + ")");
            }
        }
        return new AricateWordTokenizer(tokens, Map.copyOf(ids), lowercase);
    }

    private static boolean wordChar(int c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'';
    }

    private boolean special(int id) {
        return id == pad || id == unk || id == sep || id == eos;
    }

    /** The pieces of {@code text} before the vocabulary look-up (what the ids stand for, unknown ones included). */
    public List<String> split(String text) {
        String s = lowercase ? text.toLowerCase(Locale.ROOT) : text;
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            if (s.startsWith(SEP, i) || s.startsWith(EOS, i)) {
                out.add(s.substring(i, i + SEP.length()));
                i += SEP.length();
                continue;
            }
            int c = s.codePointAt(i);
            int next = i + Character.charCount(c);
            if (wordChar(c)) {
                while (next < s.length() && wordChar(s.charAt(next))) {
                    next++;
                }
                out.add(s.substring(i, next));
            } else if (!UnicodeChars.pythonSpace(c)) {
                out.add(s.substring(i, next));
            }
            i = next;
        }
        return out;
    }

    /** No BOS exists: {@code addBos} changes nothing. */
    @Override
    public int[] encode(String text, boolean addBos) {
        return split(text).stream().mapToInt(t -> ids.getOrDefault(t, unk)).toArray();
    }

    @Override
    public byte[] decodeBytes(int previous, int token) {
        return decodeBytes(previous, token, DecodeOptions.DEFAULT);
    }

    /** Without skipping, {@code <pad>}, {@code <unk>} and {@code <eos>} are written as words. */
    @Override
    public byte[] decodeBytes(int previous, int token, DecodeOptions options) {
        checkId(token);
        if (options.skipSpecialTokens() && isSpecial(token)) {
            return new byte[0];
        }
        String t = tokens[token];
        String text;
        if (token == sep) {
            text = " " + SEP + " ";
        } else if (previous < 0 || previous == sep || punctuation[token]) {
            text = t;
        } else {
            text = " " + t;
        }
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** The tokens decoding skips: {@code <pad>}, {@code <unk>}, {@code <eos>} ({@code <sep>} is always written). */
    @Override
    public boolean isSpecial(int id) {
        checkId(id);
        return id == pad || id == unk || id == eos;
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return tokens[id].getBytes(StandardCharsets.UTF_8);
    }

    /** The vocabulary entry of {@code id}. */
    public String token(int id) {
        checkId(id);
        return tokens[id];
    }

    @Override
    public int bosId() {
        return -1;
    }

    @Override
    public int[] eosIds() {
        return new int[] {eos};
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + tokens.length);
        }
    }
}
