package dev.arica.formats.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import dev.arica.formats.llama2c.Llama2cTokenizer;
import dev.arica.formats.model.DecoderConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A checkpoint's tokenizer as GGUF's {@code tokenizer.ggml.*} metadata, the vocabulary kinds llama.cpp runs:
 * <ul>
 *   <li>{@code llama} (sentencepiece): a llama2.c tokenizer (its pieces' spaces written as U+2581, as llama.cpp's
 *       llama2.c converter escapes them, the file's scores kept) or a sentencepiece-style {@code tokenizer.json}
 *       (Unigram with its scores; BPE with byte fallback, each merged token scored minus its merge's rank, so that
 *       llama.cpp's highest-score-first merging follows the merge order).</li>
 *   <li>{@code gpt2} (byte-level BPE): the vocabulary, the merges, and the pre-tokenizer as llama.cpp names it
 *       ({@code gpt-2} or {@code llama-bpe}, recognised from tokenizer.json's own).</li>
 *   <li>{@code none}, for a checkpoint without a tokenizer: llama.cpp loads it and runs on ids.</li>
 * </ul>
 * Token types follow llama.cpp's converters: the unknown token UNKNOWN, begin/end and other special tokens CONTROL,
 * {@code <0xNN>} pieces BYTE, added non-special tokens USER_DEFINED, ids the tokenizer lacks UNUSED.
 */
public final class GgufVocabulary {

    /** Sentencepiece's visible space, U+2581, which stands for ' ' in its pieces. */
    private static final byte[] SPACE_MARK = "\u2581".getBytes(StandardCharsets.UTF_8);
    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    /** Llama 3's pre-tokenizer split, which llama.cpp calls {@code llama-bpe}. */
    private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String HF_FILE = "tokenizer.json";

    private GgufVocabulary() {}

    /**
     * The metadata of the tokenizer among {@code aux} ({@code tokenizer.json} first, as arica's runtime prefers it,
     * else {@code tokenizer.llama2c.bin}); {@code source} names the checkpoint in errors.
     */
    public static GgufKeyValues of(List<AuxFile> aux, DecoderConfig c, Path source) throws IOException {
        for (String name : List.of(HF_FILE, Llama2cCheckpoint.TOKENIZER_NAME)) {
            for (AuxFile a : aux) {
                if (a.name().equals(name)) {
                    Path file = a.source() != null ? a.source() : source.resolve(name);
                    return name.equals(HF_FILE) ? tokenizerJson(file, a.bytes(), c)
                            : llama2c(Llama2cTokenizer.parse(file, a.bytes(), c.vocab()), c);
                }
            }
        }
        return new GgufKeyValues().putString(GgufKeys.TOKENIZER_MODEL, "none");
    }

    /** A llama2.c tokenizer: model {@code llama}, id 0 the unknown token when its piece says so. */
    static GgufKeyValues llama2c(Llama2cTokenizer t, DecoderConfig c) {
        int n = t.vocabSize();
        List<byte[]> tokens = new ArrayList<>(n);
        float[] scores = new float[n];
        int[] types = new int[n];
        boolean unk = n > 0 && Arrays.equals(t.piece(0), "<unk>".getBytes(StandardCharsets.US_ASCII));
        for (int id = 0; id < n; id++) {
            byte[] piece = t.piece(id);
            tokens.add(escapeSpaces(piece));
            scores[id] = t.score(id);
            GgufTokenType type;
            if (unk && id == 0) {
                type = GgufTokenType.UNKNOWN;
            } else if (special(id, c) || piece.length == 0) {
                type = GgufTokenType.CONTROL;
            } else if (BYTE_PIECE.matcher(new String(piece, StandardCharsets.ISO_8859_1)).matches()) {
                type = GgufTokenType.BYTE;
            } else {
                type = GgufTokenType.NORMAL;
            }
            types[id] = type.id();
        }
        GgufKeyValues kv = new GgufKeyValues().putString(GgufKeys.TOKENIZER_MODEL, "llama")
                .putStringArray(GgufKeys.TOKENS, tokens).putFloat32Array(GgufKeys.SCORES, scores)
                .putInt32Array(GgufKeys.TOKEN_TYPE, types);
        specialIds(kv, c);
        if (unk) {
            kv.putUint32(GgufKeys.UNK_ID, 0);
        }
        return kv;
    }

    /** A tokenizer.json: byte-level BPE as {@code gpt2}, sentencepiece-style BPE or Unigram as {@code llama}. */
    static GgufKeyValues tokenizerJson(Path file, byte[] bytes, DecoderConfig c) throws FormatException {
        JsonNode root = Json.parse(file, bytes, "tokenizer.json");
        JsonNode model = root.path("model");
        String type = model.path("type").asText("");
        boolean byteLevel = hasType(root.path("pre_tokenizer"), "ByteLevel") || hasType(root.path("decoder"), "ByteLevel");
        Vocab v = new Vocab(file, c.vocab());
        switch (type) {
            case "BPE" -> {
                JsonNode vocab = model.path("vocab");
                if (!vocab.isObject()) {
                    throw new FormatException(file, "model.vocab must be an object of token: id");
                }
                for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                    v.set(e.getValue().asInt(-1), e.getKey(), GgufTokenType.NORMAL, 0f);
                }
            }
            case "Unigram" -> {
                JsonNode vocab = model.path("vocab");
                if (!vocab.isArray()) {
                    throw new FormatException(file, "model.vocab must be an array of [piece, score]");
                }
                for (int id = 0; id < vocab.size(); id++) {
                    v.set(id, vocab.get(id).path(0).asText(), GgufTokenType.NORMAL, (float) vocab.get(id).path(1).asDouble());
                }
            }
            default -> throw new FormatException(file, "model.type '" + type + "' has no GGUF vocabulary arica writes "
                    + "(BPE and Unigram have)");
        }
        if (type.equals("BPE") && byteLevel) {
            return gpt2(file, root, v, c);
        }
        if (type.equals("BPE") && !model.path("byte_fallback").asBoolean(false)) {
            throw new FormatException(file, "is a BPE tokenizer neither byte-level nor with byte fallback: llama.cpp has "
                    + "no such vocabulary");
        }
        return sentencepiece(file, root, v, c, type.equals("BPE"));
    }

    private static GgufKeyValues gpt2(Path file, JsonNode root, Vocab v, DecoderConfig c) throws FormatException {
        String pre = preTokenizer(file, root.path("pre_tokenizer"));
        v.added(root.path("added_tokens"));
        List<byte[]> merges = new ArrayList<>();
        for (String[] m : merges(file, root.path("model"))) {
            merges.add((m[0] + " " + m[1]).getBytes(StandardCharsets.UTF_8));
        }
        GgufKeyValues kv = new GgufKeyValues().putString(GgufKeys.TOKENIZER_MODEL, "gpt2")
                .putString(GgufKeys.TOKENIZER_PRE, pre).putStringArray(GgufKeys.TOKENS, v.tokens())
                .putInt32Array(GgufKeys.TOKEN_TYPE, v.types()).putStringArray(GgufKeys.MERGES, merges);
        specialIds(kv, c);
        kv.putBool(GgufKeys.ADD_BOS, addsBos(root.path("post_processor")));
        return kv;
    }

    private static GgufKeyValues sentencepiece(Path file, JsonNode root, Vocab v, DecoderConfig c, boolean bpe)
            throws FormatException {
        if (bpe) {
            List<String[]> merges = merges(file, root.path("model"));
            Map<String, Integer> ids = v.ids();
            for (int rank = merges.size() - 1; rank >= 0; rank--) {
                Integer id = ids.get(merges.get(rank)[0] + merges.get(rank)[1]);
                if (id != null) {
                    v.scores[id] = -rank; // the lowest rank that makes a token wins: visited last
                }
            }
        }
        for (int id = 0; id < v.size(); id++) {
            if (v.types[id] == GgufTokenType.NORMAL.id() && BYTE_PIECE.matcher(v.text(id)).matches()) {
                v.types[id] = GgufTokenType.BYTE.id();
            }
        }
        JsonNode model = root.path("model");
        Integer unk = model.has("unk_id") && model.get("unk_id").canConvertToInt() ? Integer.valueOf(model.get("unk_id").intValue())
                : v.ids().get(model.path("unk_token").asText(""));
        v.added(root.path("added_tokens"));
        if (unk != null && unk >= 0 && unk < v.size()) {
            v.types[unk] = GgufTokenType.UNKNOWN.id();
        }
        GgufKeyValues kv = new GgufKeyValues().putString(GgufKeys.TOKENIZER_MODEL, "llama")
                .putStringArray(GgufKeys.TOKENS, v.tokens()).putFloat32Array(GgufKeys.SCORES, v.scores)
                .putInt32Array(GgufKeys.TOKEN_TYPE, v.types());
        specialIds(kv, c);
        if (unk != null && unk >= 0 && unk < v.size()) {
            kv.putUint32(GgufKeys.UNK_ID, unk);
        }
        kv.putBool(GgufKeys.ADD_BOS, addsBos(root.path("post_processor")));
        kv.putBool(GgufKeys.ADD_SPACE_PREFIX, prependsSpace(root));
        return kv;
    }

    /** llama.cpp's name of a byte-level pre-tokenizer: GPT-2's regex in ByteLevel, or Llama 3's split. */
    private static String preTokenizer(Path file, JsonNode pre) throws FormatException {
        if (pre.path("type").asText().equals("ByteLevel") && pre.path("use_regex").asBoolean(true)
                && !pre.path("add_prefix_space").asBoolean(false)) {
            return "gpt-2";
        }
        JsonNode list = pre.path("pretokenizers");
        if (pre.path("type").asText().equals("Sequence") && list.size() == 2
                && list.get(0).path("type").asText().equals("Split")
                && list.get(0).path("pattern").path("Regex").asText().equals(LLAMA3_SPLIT)
                && list.get(1).path("type").asText().equals("ByteLevel") && !list.get(1).path("use_regex").asBoolean(true)) {
            return "llama-bpe";
        }
        throw new FormatException(file, "pre_tokenizer " + pre + " is neither GPT-2's nor Llama 3's, "
                + "the byte-level pre-tokenizers arica names for llama.cpp");
    }

    /** The merges, whether written "a b" (older files) or ["a", "b"]. */
    private static List<String[]> merges(Path file, JsonNode model) throws FormatException {
        List<String[]> out = new ArrayList<>();
        JsonNode list = model.path("merges");
        for (int rank = 0; rank < list.size(); rank++) {
            JsonNode m = list.get(rank);
            String[] pair = m.isTextual() ? m.textValue().split(" ", -1)
                    : m.isArray() && m.size() == 2 ? new String[] {m.get(0).asText(), m.get(1).asText()} : new String[0];
            if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
                throw new FormatException(file, "model.merges[" + rank + "] is not a pair of tokens: " + m);
            }
            out.add(pair);
        }
        return out;
    }

    /** Whether the post-processor puts a special token before the text (a template starting with one). */
    private static boolean addsBos(JsonNode post) {
        if (post.path("type").asText().equals("Sequence")) {
            for (JsonNode p : post.path("processors")) {
                if (addsBos(p)) {
                    return true;
                }
            }
            return false;
        }
        return post.path("type").asText().equals("TemplateProcessing") && post.path("single").path(0).has("SpecialToken");
    }

    /** Whether a space mark is put before the text: Metaspace prepending, or a normalizer's Prepend. */
    private static boolean prependsSpace(JsonNode root) {
        for (JsonNode n : List.of(root.path("pre_tokenizer"), root.path("normalizer"))) {
            for (JsonNode step : steps(n)) {
                String t = step.path("type").asText();
                if (t.equals("Metaspace")) {
                    String scheme = step.path("prepend_scheme").asText(step.path("add_prefix_space").asBoolean(true)
                            ? "always" : "never");
                    return !scheme.equals("never");
                }
                if (t.equals("Prepend")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean hasType(JsonNode n, String type) {
        return steps(n).stream().anyMatch(s -> s.path("type").asText().equals(type));
    }

    /** A normalizer, pre-tokenizer or decoder as its list of steps (a Sequence's, or itself). */
    private static List<JsonNode> steps(JsonNode n) {
        List<JsonNode> out = new ArrayList<>();
        for (String list : List.of("normalizers", "pretokenizers", "decoders")) {
            n.path(list).forEach(out::add);
        }
        if (out.isEmpty() && n.isObject()) {
            out.add(n);
        }
        return out;
    }

    private static boolean special(int id, DecoderConfig c) {
        return (c.bosTokenId() != null && c.bosTokenId() == id) || c.eosTokenIds().contains(id);
    }

    private static void specialIds(GgufKeyValues kv, DecoderConfig c) {
        if (c.bosTokenId() != null) {
            kv.putUint32(GgufKeys.BOS_ID, c.bosTokenId());
        }
        if (!c.eosTokenIds().isEmpty()) {
            kv.putUint32(GgufKeys.EOS_ID, c.eosTokenIds().getFirst());
        }
    }

    /** Sentencepiece writes its space mark where a llama2.c file has a plain space. */
    private static byte[] escapeSpaces(byte[] piece) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(piece.length + 4);
        for (byte b : piece) {
            if (b == ' ') {
                out.writeBytes(SPACE_MARK);
            } else {
                out.write(b);
            }
        }
        return out.toByteArray();
    }

    /** A vocabulary of exactly the model's size being filled from a tokenizer.json. */
    private static final class Vocab {
        private final Path file;
        private final String[] texts;
        private final int[] types;
        private final float[] scores;

        Vocab(Path file, int size) {
            this.file = file;
            this.texts = new String[size];
            this.types = new int[size];
            this.scores = new float[size];
        }

        int size() {
            return texts.length;
        }

        void set(int id, String text, GgufTokenType type, float score) throws FormatException {
            if (id < 0 || id >= texts.length) {
                throw new FormatException(file, "token '" + text + "' has id " + id + ", outside the model's "
                        + texts.length + " embedding rows");
            }
            texts[id] = text;
            types[id] = type.id();
            scores[id] = score;
        }

        /** The added tokens: special ones CONTROL, the others USER_DEFINED. */
        void added(JsonNode list) throws FormatException {
            for (JsonNode a : list) {
                set(a.path("id").asInt(-1), a.path("content").asText(), a.path("special").asBoolean(false)
                        ? GgufTokenType.CONTROL : GgufTokenType.USER_DEFINED, 0f);
            }
        }

        String text(int id) {
            return texts[id] == null ? "" : texts[id];
        }

        Map<String, Integer> ids() {
            Map<String, Integer> m = new HashMap<>(2 * texts.length);
            for (int id = texts.length - 1; id >= 0; id--) {
                if (texts[id] != null) {
                    m.put(texts[id], id);
                }
            }
            return m;
        }

        /** The pieces, an id the tokenizer lacks named {@code [PADn]} as llama.cpp's converter does. */
        List<byte[]> tokens() {
            List<byte[]> out = new ArrayList<>(texts.length);
            for (int id = 0; id < texts.length; id++) {
                out.add((texts[id] != null ? texts[id] : "[PAD" + id + "]").getBytes(StandardCharsets.UTF_8));
            }
            return out;
        }

        int[] types() {
            int[] out = types.clone();
            for (int id = 0; id < texts.length; id++) {
                if (texts[id] == null) {
                    out[id] = GgufTokenType.UNUSED.id();
                }
            }
            return out;
        }
    }
}
