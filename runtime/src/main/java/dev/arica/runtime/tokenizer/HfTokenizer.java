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
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json}: a normalizer, a pre-tokenizer, a model ({@link HfModel}: BPE,
 * WordPiece, Unigram or WordLevel), a post-processor and a decoder, with added and special tokens. This
 * covers byte-level BPE (GPT-2, Llama 3), sentencepiece-style BPE (Llama 2, Mistral), BERT's WordPiece and
 * sentencepiece unigram models (T5, XLM-R style, without a precompiled normalizer).
 *
 * <p>Encoding follows tokenizers: the text is cut at added tokens (longest match first, honouring
 * {@code lstrip}, {@code rstrip} and {@code single_word}); each stretch in between is normalized,
 * pre-tokenized and handed to the model word by word. Added tokens are matched in the raw text, also those
 * marked {@code normalized}. Decoding drops special tokens unless asked to keep them; a
 * {@code tokenizer_config.json} beside the file gives {@code clean_up_tokenization_spaces}.
 */
public final class HfTokenizer implements Tokenizer {

    /** Names of end-of-sequence tokens of common models, the default {@link #eosIds()} when present. */
    private static final List<String> EOS_NAMES = List.of("</s>", "<|end_of_text|>", "<|eot_id|>", "<|endoftext|>",
            "<|im_end|>", "<eos>", "<end_of_turn>");

    /** transformers' side file with the decoding defaults. */
    public static final String CONFIG_FILE = "tokenizer_config.json";
    /** Unused ids accepted beyond twice the token count (found by fuzzing: 781 tokens, one of id 6891108, ran out of memory). */
    static final int MAX_ID_GAP = 1024;

    private record Added(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip) {}

    private final Parts p;
    private final int bos;
    private final int[] eos;

    private HfTokenizer(Parts parts, int bos, int[] eos) {
        this.p = parts;
        this.bos = bos;
        this.eos = eos;
    }

    /** Everything read from the file but the special ids; filled in by {@link #read}, not changed after. */
    private static final class Parts {
        HfModel model;
        Map<String, Integer> vocab;
        String[] tokens;
        boolean[] special;
        boolean[] fallbackByte;
        /** What the decoder makes of each token when it is not the first: decoding need not redo it per token. */
        byte[][] decodedAfter;
        List<Added> added;
        /** The first characters of the added tokens: most positions start none, and need not be compared. */
        BitSet addedStarts;
        HfNormalizer normalizer;
        HfPreTokenizer preTokenizer;
        HfPostProcessor postProcessor;
        HfDecoder decoder;
        boolean cleanUp;
    }

    /** Reads and checks a tokenizer.json; any problem is a one-line FormatException naming the file. */
    public static HfTokenizer read(Path file) throws IOException {
        ObjectNode root = Json.readObjectFile(file);
        TokenizerJson json = new TokenizerJson(file);
        Parts b = new Parts();
        b.model = HfModel.parse(root.get("model"), json);
        b.vocab = new HashMap<>(b.model.vocab());
        Map<Integer, String> byId = new HashMap<>(2 * b.vocab.size());
        b.vocab.forEach((token, id) -> byId.put(id, token));

        b.added = new ArrayList<>();
        JsonNode addedNode = root.get("added_tokens");
        Set<Integer> specialIds = new HashSet<>();
        if (addedNode != null && !addedNode.isNull()) {
            if (!addedNode.isArray()) {
                throw json.error("added_tokens", "must be an array");
            }
            for (int i = 0; i < addedNode.size(); i++) {
                JsonNode a = addedNode.get(i);
                String where = "added_tokens[" + i + "]";
                if (!a.isObject()) {
                    throw json.error(where, "must be an object");
                }
                int id = json.nonNegativeInt(a.get("id"), where + ".id");
                String content = json.text(a, "content", where);
                if (content.isEmpty()) {
                    throw json.error(where + ".content", "is empty");
                }
                String other = byId.putIfAbsent(id, content);
                if (other != null && !other.equals(content)) {
                    throw json.error(where, "gives id " + id + " to '" + content + "', which the vocabulary gives to '" + other + "'");
                }
                Integer known = b.vocab.putIfAbsent(content, id);
                if (known != null && known != id) {
                    throw json.error(where, "gives '" + content + "' id " + id + ", the vocabulary id " + known);
                }
                Added t = new Added(id, content, json.bool(a, "special", false, where), json.bool(a, "single_word", false, where),
                        json.bool(a, "lstrip", false, where), json.bool(a, "rstrip", false, where));
                b.added.add(t);
                if (t.special) {
                    specialIds.add(id);
                }
            }
        }
        // Longest first, so that "<|a|>x" is preferred over its prefix "<|a|>" at the same position.
        b.added.sort(Comparator.comparingInt((Added a) -> a.content.length()).reversed());
        b.addedStarts = new BitSet();
        b.added.forEach(a -> b.addedStarts.set(a.content.charAt(0)));

        int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (size == 0) {
            throw json.error("model.vocab", "is empty");
        }
        // The tables below hold one entry per id: a few tokens with a huge id must not cost gigabytes.
        if (size > 2L * byId.size() + MAX_ID_GAP) {
            throw json.error("model.vocab", "gives ids up to " + (size - 1) + " to " + byId.size() + " tokens: arica keeps a "
                    + "table by id and accepts at most twice as many ids as tokens (plus " + MAX_ID_GAP + ")");
        }
        b.tokens = new String[size];
        b.special = new boolean[size];
        byId.forEach((id, s) -> b.tokens[id] = s);
        specialIds.forEach(id -> b.special[id] = true);

        b.normalizer = HfNormalizer.parse(root.get("normalizer"), json, "normalizer");
        b.preTokenizer = HfPreTokenizer.parse(root.get("pre_tokenizer"), json, "pre_tokenizer");
        b.postProcessor = HfPostProcessor.parse(root.get("post_processor"), b.vocab, json, "post_processor");
        b.decoder = HfDecoder.parse(root.get("decoder"), json, "decoder");
        b.cleanUp = cleanUpSetting(file);
        b.fallbackByte = new boolean[size];
        for (int id = 0; id < size; id++) {
            b.fallbackByte[id] = b.decoder.fallbackByte(b.tokens[id]);
        }
        b.decodedAfter = new byte[size][];
        for (int id = 0; id < size; id++) {
            b.decodedAfter[id] = b.tokens[id] == null ? new byte[0] : b.decoder.decode(b.tokens[id], false);
        }
        for (int id : b.postProcessor.process(new int[0], new int[0], true).ids()) {
            if (id >= size) {
                throw json.error("post_processor", "adds id " + id + ", outside the vocabulary of " + size);
            }
        }

        Set<Integer> eos = new LinkedHashSet<>();
        for (String name : EOS_NAMES) {
            Integer id = b.vocab.get(name);
            if (id != null && specialIds.contains(id)) {
                eos.add(id);
            }
        }
        return new HfTokenizer(b, b.postProcessor.leadingSpecial(), eos.stream().mapToInt(Integer::intValue).toArray());
    }

    /** {@code clean_up_tokenization_spaces} of the tokenizer_config.json beside {@code file}; false without one. */
    private static boolean cleanUpSetting(Path file) throws IOException {
        Path config = file.toAbsolutePath().resolveSibling(CONFIG_FILE);
        if (!Files.isRegularFile(config)) {
            return false;
        }
        return new TokenizerJson(config).bool(Json.readObjectFile(config), "clean_up_tokenization_spaces", false,
                "tokenizer_config");
    }

    /** This tokenizer with other beginning- and end-of-sequence ids (e.g. from generation_config.json). */
    public HfTokenizer withSpecialIds(int bosId, int... eosIds) {
        for (int id : eosIds) {
            checkId(id);
        }
        if (bosId != -1) {
            checkId(bosId);
        }
        return new HfTokenizer(p, bosId, eosIds.clone());
    }

    /** The ids of {@code text} alone, without the special tokens of the post-processor; BOS first with {@code addBos}. */
    @Override
    public int[] encode(String text, boolean addBos) {
        IntList out = new IntList();
        if (addBos && bos >= 0) {
            out.add(bos);
        }
        encodeSequence(text, out);
        return out.toArray();
    }

    @Override
    public Encoding encode(String text, String pair, boolean addSpecialTokens) {
        IntList a = new IntList();
        encodeSequence(text, a);
        int[] second = null;
        if (pair != null) {
            IntList b = new IntList();
            encodeSequence(pair, b);
            second = b.toArray();
        }
        return p.postProcessor.process(a.toArray(), second, addSpecialTokens);
    }

    private void encodeSequence(String text, IntList out) {
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            Added match = addedAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            int from = i, to = i + match.content.length();
            if (match.lstrip) {
                while (from > start && Character.isWhitespace(text.charAt(from - 1))) {
                    from--;
                }
            }
            if (match.rstrip) {
                while (to < text.length() && Character.isWhitespace(text.charAt(to))) {
                    to++;
                }
            }
            encodeStretch(text.substring(start, from), start == 0, out);
            out.add(match.id);
            start = i = to;
        }
        encodeStretch(text.substring(start), start == 0, out);
    }

    private Added addedAt(String text, int i) {
        if (!p.addedStarts.get(text.charAt(i))) {
            return null;
        }
        for (Added a : p.added) {
            if (text.startsWith(a.content, i) && (!a.singleWord || wholeWord(text, i, i + a.content.length()))) {
                return a;
            }
        }
        return null;
    }

    private static boolean wholeWord(String text, int from, int to) {
        return (from == 0 || !isWordChar(text.codePointBefore(from))) && (to == text.length() || !isWordChar(text.codePointAt(to)));
    }

    private static boolean isWordChar(int c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }

    private void encodeStretch(String stretch, boolean atTextStart, IntList out) {
        if (stretch.isEmpty()) {
            return;
        }
        String normalized = p.normalizer.apply(stretch);
        for (String word : p.preTokenizer.split(List.of(normalized), atTextStart)) {
            if (!word.isEmpty()) {
                p.model.tokenize(word, out);
            }
        }
    }

    @Override
    public byte[] decodeBytes(int previous, int token) {
        return decodeBytes(previous, token, DecodeOptions.DEFAULT);
    }

    /**
     * The decoder's bytes for {@code token}; special tokens are nothing when skipped, else their content
     * through the decoder. The decoder's start-of-text rules apply when {@code previous} is -1.
     */
    @Override
    public byte[] decodeBytes(int previous, int token, DecodeOptions options) {
        checkId(token);
        if ((options.skipSpecialTokens() && p.special[token]) || p.tokens[token] == null) {
            return new byte[0];
        }
        return previous < 0 ? p.decoder.decode(p.tokens[token], true) : p.decodedAfter[token].clone();
    }

    @Override
    public boolean isFallbackByte(int id) {
        checkId(id);
        return p.fallbackByte[id];
    }

    @Override
    public boolean cleanUpTokenizationSpaces() {
        return p.cleanUp;
    }

    @Override
    public int vocabSize() {
        return p.tokens.length;
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return p.tokens[id] == null ? new byte[0] : p.tokens[id].getBytes(StandardCharsets.UTF_8);
    }

    /** The vocabulary entry of {@code id}, or null for an unused id. */
    public String token(int id) {
        checkId(id);
        return p.tokens[id];
    }

    /** The id of a vocabulary entry or added token, or -1. */
    public int id(String token) {
        return p.vocab.getOrDefault(token, -1);
    }

    @Override
    public boolean isSpecial(int id) {
        checkId(id);
        return p.special[id];
    }

    @Override
    public int bosId() {
        return bos;
    }

    @Override
    public int[] eosIds() {
        return eos.clone();
    }

    private void checkId(int id) {
        if (id < 0 || id >= p.tokens.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + p.tokens.length);
        }
    }
}
