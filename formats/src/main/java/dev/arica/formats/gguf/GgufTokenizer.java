package dev.arica.formats.gguf;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A GGUF file's vocabulary ({@code tokenizer.ggml.*}) rebuilt as the Hugging Face {@code tokenizer.json} that
 * transformers' converters write for the same tokenizer, so that arica's tokenizers run it:
 * <ul>
 *   <li>{@code llama} (sentencepiece BPE): pieces with {@code ▁} for spaces, byte fallback to {@code <0xNN>}, the
 *       merges derived from the scores as transformers' SentencePieceExtractor does (every split of a piece into two
 *       pieces, ordered by the merged piece's score, highest first, ties by the ids of the parts), a {@code ▁} prefix
 *       unless {@code add_space_prefix} is false;</li>
 *   <li>{@code gpt2} (byte-level BPE): the stored merges, with GPT-2's pre-tokenizer regex ({@code pre} absent,
 *       {@code default} or {@code gpt-2}) or Llama 3's ({@code llama-bpe}).</li>
 * </ul>
 * Control tokens become special added tokens, user-defined ones added tokens matched in the text; BOS (and EOS) are
 * put around a sequence as {@code add_bos_token} ({@code add_eos_token}) say, by default BOS for {@code llama} only.
 * Other tokenizer models and pre-tokenizers are not rebuilt: {@link #build} says why.
 */
public final class GgufTokenizer {
    /** The piece that stands for a space in sentencepiece vocabularies. */
    static final String SPACE = "\u2581";

    /** Llama 3's pre-tokenizer regex, as its tokenizer.json gives it. */
    private static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** A rebuilt tokenizer.json, or why there is none. */
    public record Built(Optional<ObjectNode> json, String problem) {
        static Built none(String problem) {
            return new Built(Optional.empty(), problem);
        }
    }

    /** The vocabulary as stored, checked, with the first id of every piece. */
    private record Vocab(List<String> tokens, float[] scores, GgufTokenType[] types, Map<String, Integer> ids) {
        /** Whether {@code id} is the id its piece is known by (a piece stored twice keeps its first id). */
        boolean first(int id) {
            return ids.get(tokens.get(id)) == id;
        }
    }

    private GgufTokenizer() {}

    /**
     * The tokenizer.json of {@code m}'s vocabulary; a model or pre-tokenizer arica does not rebuild gives none with the
     * reason, inconsistent metadata (lengths that disagree, an id outside the vocabulary) a FormatException.
     */
    public static Built build(Path file, GgufMetadata m) throws FormatException {
        Optional<String> model = m.string(GgufKeys.TOKENIZER_MODEL);
        if (model.isEmpty()) {
            return Built.none("no " + GgufKeys.TOKENIZER_MODEL);
        }
        return switch (model.get()) {
            case "llama" -> new Built(Optional.of(sentencepiece(file, m, vocab(file, m, true))), null);
            case "gpt2" -> byteLevel(file, m);
            default -> Built.none(GgufKeys.TOKENIZER_MODEL + " '" + model.get()
                    + "' is not one arica rebuilds as a tokenizer.json (it rebuilds llama and gpt2)");
        };
    }

    private static Vocab vocab(Path file, GgufMetadata m, boolean scored) throws FormatException {
        GgufValue tokens = m.array(GgufKeys.TOKENS, GgufValueType.STRING)
                .orElseThrow(() -> new FormatException(file, "metadata '" + GgufKeys.TOKENS + "' is missing"));
        if (tokens.size() == 0 || tokens.size() > Integer.MAX_VALUE - 8) {
            throw new FormatException(file, "metadata '" + GgufKeys.TOKENS + "' has " + tokens.size() + " tokens");
        }
        int n = (int) tokens.size();
        List<String> pieces = tokens.strings(GgufKeys.TOKENS);
        float[] scores = new float[n];
        Optional<GgufValue> s = m.array(GgufKeys.SCORES, GgufValueType.FLOAT32);
        if (s.isPresent()) {
            sameLength(file, GgufKeys.SCORES, s.get(), n);
            for (int i = 0; i < n; i++) {
                scores[i] = (float) s.get().doubleAt(i);
                if (!Float.isFinite(scores[i])) {
                    throw new FormatException(file, "metadata '" + GgufKeys.SCORES + "' gives token " + i + " score "
                            + scores[i]);
                }
            }
        } else if (scored) {
            throw new FormatException(file, "metadata '" + GgufKeys.SCORES + "' is missing (a llama tokenizer merges by score)");
        }
        GgufTokenType[] types = new GgufTokenType[n];
        Optional<GgufValue> t = m.array(GgufKeys.TOKEN_TYPE, GgufValueType.INT32);
        for (int i = 0; i < n; i++) {
            if (t.isEmpty()) {
                types[i] = GgufTokenType.NORMAL;
                continue;
            }
            if (i == 0) {
                sameLength(file, GgufKeys.TOKEN_TYPE, t.get(), n);
            }
            long type = t.get().longAt(i);
            int id = i;
            types[i] = GgufTokenType.of(type).orElseThrow(() -> new FormatException(file, "metadata '"
                    + GgufKeys.TOKEN_TYPE + "' gives token " + id + " type " + type + ", which is not a token type"));
        }
        return new Vocab(pieces, scores, types, ids(pieces));
    }

    private static void sameLength(Path file, String key, GgufValue v, int n) throws FormatException {
        if (v.size() != n) {
            throw new FormatException(file, "metadata '" + key + "' has " + v.size() + " entries for " + n + " tokens");
        }
    }

    /** Token id {@code key}, checked against the vocabulary; -1 when absent. */
    private static int tokenId(Path file, GgufMetadata m, String key, int vocab) throws FormatException {
        OptionalLong id = m.integer(key);
        if (id.isEmpty()) {
            return -1;
        }
        if (id.getAsLong() < 0 || id.getAsLong() >= vocab) {
            throw new FormatException(file, "metadata '" + key + "' is " + id.getAsLong() + ", outside the vocabulary of "
                    + vocab);
        }
        return (int) id.getAsLong();
    }

    /** The first id of every piece (a piece stored twice keeps its first id, as a tokenizer.json can hold it once). */
    private static Map<String, Integer> ids(List<String> tokens) {
        Map<String, Integer> ids = new HashMap<>(2 * tokens.size());
        for (int i = 0; i < tokens.size(); i++) {
            ids.putIfAbsent(tokens.get(i), i);
        }
        return ids;
    }

    private static ObjectNode sentencepiece(Path file, GgufMetadata m, Vocab v) throws FormatException {
        int n = v.tokens().size();
        int bos = tokenId(file, m, GgufKeys.BOS_ID, n), eos = tokenId(file, m, GgufKeys.EOS_ID, n);
        int unk = tokenId(file, m, GgufKeys.UNK_ID, n);
        if (unk < 0) {
            for (int i = 0; i < n && unk < 0; i++) {
                unk = v.types()[i] == GgufTokenType.UNKNOWN ? i : -1;
            }
        }
        boolean prefix = m.bool(GgufKeys.ADD_SPACE_PREFIX, true);
        ObjectNode root = root();
        root.set("added_tokens", addedTokens(v));
        ObjectNode replace = replace(" ", SPACE);
        if (prefix) {
            ObjectNode seq = root.putObject("normalizer").put("type", "Sequence");
            seq.putArray("normalizers").add(Json.MAPPER.createObjectNode().put("type", "Prepend").put("prepend", SPACE))
                    .add(replace);
        } else {
            root.set("normalizer", replace);
        }
        root.putNull("pre_tokenizer");
        root.set("post_processor", template(v, m.bool(GgufKeys.ADD_BOS, true) ? bos : -1,
                m.bool(GgufKeys.ADD_EOS, false) ? eos : -1));
        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode steps = decoder.putArray("decoders");
        steps.add(replace(SPACE, " "));
        steps.addObject().put("type", "ByteFallback");
        steps.addObject().put("type", "Fuse");
        if (prefix) {
            steps.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        }
        ObjectNode model = bpe(root, v, unk >= 0 ? v.tokens().get(unk) : null, true, false);
        ArrayNode merges = model.putArray("merges");
        for (String[] merge : mergesByScore(v)) {
            merges.addArray().add(merge[0]).add(merge[1]);
        }
        return root;
    }

    /**
     * The merges of a scored vocabulary as transformers' SentencePieceExtractor derives them: for each piece in id
     * order its splits into two pieces of the vocabulary, ordered by the parts' ids; then all of them ordered by the
     * merged piece's score, highest first, a stable sort.
     */
    private static List<String[]> mergesByScore(Vocab v) {
        Map<String, Integer> ids = v.ids();
        record Merge(String left, String right, int leftId, int rightId, float score) {}
        List<Merge> all = new ArrayList<>();
        List<Merge> local = new ArrayList<>();
        for (int id = 0; id < v.tokens().size(); id++) {
            String piece = v.tokens().get(id);
            if (piece.isEmpty() || !v.first(id)) {
                continue;
            }
            local.clear();
            // Split points between code points, as Python slices a str.
            for (int k = piece.offsetByCodePoints(0, 1); k < piece.length(); k = piece.offsetByCodePoints(k, 1)) {
                Integer l = ids.get(piece.substring(0, k)), r = ids.get(piece.substring(k));
                if (l != null && r != null) {
                    local.add(new Merge(piece.substring(0, k), piece.substring(k), l, r, v.scores()[id]));
                }
            }
            local.sort(Comparator.comparingInt(Merge::leftId).thenComparingInt(Merge::rightId));
            all.addAll(local);
        }
        // Highest score first; equal scores (0.0 and -0.0 too, as in Python) keep their order.
        all.sort((a, b) -> a.score() > b.score() ? -1 : a.score() < b.score() ? 1 : 0);
        return all.stream().map(x -> new String[] {x.left(), x.right()}).toList();
    }

    private static Built byteLevel(Path file, GgufMetadata m) throws FormatException {
        String pre = m.string(GgufKeys.TOKENIZER_PRE).orElse("default");
        boolean llama3 = pre.equals("llama-bpe") || pre.equals("llama3");
        if (!llama3 && !pre.equals("default") && !pre.equals("gpt-2") && !pre.equals("gpt2")) {
            return Built.none(GgufKeys.TOKENIZER_PRE + " '" + pre + "' is not a pre-tokenizer arica rebuilds (it rebuilds "
                    + "gpt-2, default and llama-bpe)");
        }
        Vocab v = vocab(file, m, false);
        int n = v.tokens().size();
        GgufValue merges = m.array(GgufKeys.MERGES, GgufValueType.STRING)
                .orElseThrow(() -> new FormatException(file, "metadata '" + GgufKeys.MERGES + "' is missing (a gpt2 "
                        + "tokenizer needs its merges)"));
        int bos = tokenId(file, m, GgufKeys.BOS_ID, n), eos = tokenId(file, m, GgufKeys.EOS_ID, n);
        ObjectNode root = root();
        root.set("added_tokens", addedTokens(v));
        root.putNull("normalizer");
        ObjectNode byteLevel = Json.MAPPER.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true).put("use_regex", !llama3);
        if (llama3) {
            ObjectNode seq = root.putObject("pre_tokenizer").put("type", "Sequence");
            ObjectNode split = seq.putArray("pretokenizers").addObject().put("type", "Split");
            split.putObject("pattern").put("Regex", LLAMA3_REGEX);
            split.put("behavior", "Isolated").put("invert", false);
            ((ArrayNode) seq.get("pretokenizers")).add(byteLevel);
        } else {
            root.set("pre_tokenizer", byteLevel);
        }
        root.set("post_processor", template(v, m.bool(GgufKeys.ADD_BOS, llama3) ? bos : -1,
                m.bool(GgufKeys.ADD_EOS, false) ? eos : -1));
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = bpe(root, v, null, false, llama3);
        ArrayNode list = model.putArray("merges");
        for (String merge : merges.strings(GgufKeys.MERGES)) {
            list.add(merge);
        }
        return new Built(Optional.of(root), null);
    }

    private static ObjectNode root() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        return root;
    }

    private static ObjectNode replace(String from, String to) {
        ObjectNode r = Json.MAPPER.createObjectNode().put("type", "Replace");
        r.putObject("pattern").put("String", from);
        return r.put("content", to);
    }

    private static ObjectNode bpe(ObjectNode root, Vocab v, String unk, boolean byteFallback, boolean ignoreMerges) {
        ObjectNode model = root.putObject("model").put("type", "BPE").putNull("dropout");
        if (unk == null) {
            model.putNull("unk_token");
        } else {
            model.put("unk_token", unk);
        }
        model.putNull("continuing_subword_prefix").putNull("end_of_word_suffix");
        model.put("fuse_unk", byteFallback).put("byte_fallback", byteFallback).put("ignore_merges", ignoreMerges);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < v.tokens().size(); i++) {
            if (v.first(i)) {
                vocab.put(v.tokens().get(i), i);
            }
        }
        return model;
    }

    /** Control and unknown tokens as special added tokens, user-defined ones as plain added tokens. */
    private static ArrayNode addedTokens(Vocab v) {
        ArrayNode added = Json.MAPPER.createArrayNode();
        for (int i = 0; i < v.tokens().size(); i++) {
            GgufTokenType t = v.types()[i];
            String content = v.tokens().get(i);
            boolean special = t == GgufTokenType.CONTROL || t == GgufTokenType.UNKNOWN;
            if ((special || t == GgufTokenType.USER_DEFINED) && !content.isEmpty() && v.first(i)) {
                added.addObject().put("id", i).put("content", content).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", special);
            }
        }
        return added;
    }

    /** A TemplateProcessing putting {@code bos} before and {@code eos} after each sequence (-1: none); null for neither. */
    private static ObjectNode template(Vocab v, int bos, int eos) {
        if (bos < 0 && eos < 0) {
            return null;
        }
        ObjectNode p = Json.MAPPER.createObjectNode().put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        ArrayNode pair = p.putArray("pair");
        addSequence(single, v, bos, "A", eos, 0);
        addSequence(pair, v, bos, "A", eos, 0);
        addSequence(pair, v, bos, "B", eos, 1);
        ObjectNode specials = p.putObject("special_tokens");
        for (int id : new int[] {bos, eos}) {
            if (id >= 0) {
                String t = v.tokens().get(id);
                ObjectNode s = specials.putObject(t).put("id", t);
                s.putArray("ids").add(id);
                s.putArray("tokens").add(t);
            }
        }
        return p;
    }

    private static void addSequence(ArrayNode template, Vocab v, int bos, String sequence, int eos, int typeId) {
        if (bos >= 0) {
            template.addObject().putObject("SpecialToken").put("id", v.tokens().get(bos)).put("type_id", typeId);
        }
        template.addObject().putObject("Sequence").put("id", sequence).put("type_id", typeId);
        if (eos >= 0) {
            template.addObject().putObject("SpecialToken").put("id", v.tokens().get(eos)).put("type_id", typeId);
        }
    }
}
