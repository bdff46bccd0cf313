package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json} with a BPE model: byte-level BPE (GPT-2, Llama 3: ByteLevel
 * pre-tokenizer, optionally after a regex Split) and sentencepiece-style BPE (Llama 2, Mistral: ▁ for
 * spaces through a Prepend/Replace normalizer or a Metaspace pre-tokenizer, {@code <0xNN>} byte
 * fallback), with added and special tokens.
 *
 * <p>Encoding follows tokenizers: the text is cut at added tokens (longest match first, honouring
 * {@code lstrip}, {@code rstrip} and {@code single_word}); each stretch in between is normalized,
 * pre-tokenized and merged word by word (lowest merge rank first, leftmost on ties). Added tokens are
 * matched in the raw text, also those marked {@code normalized}. Decoding drops special tokens.
 */
public final class HfTokenizer implements Tokenizer {

    /** Names of end-of-sequence tokens of common models, the default {@link #eosIds()} when present. */
    private static final List<String> EOS_NAMES = List.of("</s>", "<|end_of_text|>", "<|eot_id|>", "<|endoftext|>",
            "<|im_end|>", "<eos>", "<end_of_turn>");

    private record Added(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip) {}

    private record Merge(int rank, int merged) {}

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
        Map<String, Integer> vocab;
        String[] tokens;
        boolean[] special;
        Map<Long, Merge> merges;
        List<Added> added;
        HfNormalizer normalizer;
        HfPreTokenizer preTokenizer;
        HfDecoder decoder;
        boolean byteFallback, ignoreMerges, fuseUnk;
        int unkId = -1;
        int[] byteIds;
    }

    /** Reads and checks a tokenizer.json; any problem is a one-line FormatException naming the file. */
    public static HfTokenizer read(Path file) throws IOException {
        ObjectNode root = Json.readObjectFile(file);
        TokenizerJson json = new TokenizerJson(file);
        Parts b = new Parts();
        JsonNode model = root.get("model");
        String type = json.type(model, "model");
        if (!type.equals("BPE")) {
            throw json.error("model", "type '" + type + "' is not supported (only BPE)");
        }
        for (String field : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            String v = json.optionalText(model, field, "model");
            if (v != null && !v.isEmpty()) {
                throw json.error("model." + field, "'" + v + "' is not supported");
            }
        }
        JsonNode dropout = model.get("dropout");
        if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0) {
            throw json.error("model.dropout", dropout + " is not supported (generation needs deterministic encoding)");
        }
        b.byteFallback = json.bool(model, "byte_fallback", false, "model");
        b.ignoreMerges = json.bool(model, "ignore_merges", false, "model");
        b.fuseUnk = json.bool(model, "fuse_unk", false, "model");

        JsonNode vocabNode = model.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw json.error("model.vocab", vocabNode == null ? "is missing" : "must be an object of token: id");
        }
        b.vocab = new HashMap<>(2 * vocabNode.size());
        Map<Integer, String> byId = new HashMap<>(2 * vocabNode.size());
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            int id = json.nonNegativeInt(e.getValue(), "model.vocab['" + e.getKey() + "']");
            String other = byId.putIfAbsent(id, e.getKey());
            if (other != null) {
                throw json.error("model.vocab", "gives id " + id + " to both '" + other + "' and '" + e.getKey() + "'");
            }
            b.vocab.put(e.getKey(), id);
        }

        b.added = new ArrayList<>();
        JsonNode addedNode = root.get("added_tokens");
        Set<Integer> specialIds = new java.util.HashSet<>();
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

        int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (size == 0) {
            throw json.error("model.vocab", "is empty");
        }
        b.tokens = new String[size];
        b.special = new boolean[size];
        byId.forEach((id, s) -> b.tokens[id] = s);
        specialIds.forEach(id -> b.special[id] = true);

        String unk = json.optionalText(model, "unk_token", "model");
        if (unk != null) {
            Integer id = b.vocab.get(unk);
            if (id == null) {
                throw json.error("model.unk_token", "'" + unk + "' is not in the vocabulary");
            }
            b.unkId = id;
        }
        b.byteIds = new int[256];
        for (int v = 0; v < 256; v++) {
            b.byteIds[v] = b.vocab.getOrDefault(String.format("<0x%02X>", v), -1);
        }
        b.merges = readMerges(model, b.vocab, json);
        b.normalizer = HfNormalizer.parse(root.get("normalizer"), json, "normalizer");
        b.preTokenizer = HfPreTokenizer.parse(root.get("pre_tokenizer"), json, "pre_tokenizer");
        b.decoder = HfDecoder.parse(root.get("decoder"), json, "decoder");

        int bos = leadingSpecialToken(root.get("post_processor"), b.vocab, json, "post_processor");
        Set<Integer> eos = new LinkedHashSet<>();
        for (String name : EOS_NAMES) {
            Integer id = b.vocab.get(name);
            if (id != null && specialIds.contains(id)) {
                eos.add(id);
            }
        }
        return new HfTokenizer(b, bos, eos.stream().mapToInt(Integer::intValue).toArray());
    }

    private static Map<Long, Merge> readMerges(JsonNode model, Map<String, Integer> vocab, TokenizerJson json)
            throws FormatException {
        JsonNode list = model.get("merges");
        Map<Long, Merge> merges = new HashMap<>();
        if (list == null || list.isNull()) {
            return merges;
        }
        if (!list.isArray()) {
            throw json.error("model.merges", "must be an array");
        }
        for (int rank = 0; rank < list.size(); rank++) {
            JsonNode m = list.get(rank);
            String where = "model.merges[" + rank + "]";
            String left, right;
            // Older files write "a b", newer ones ["a", "b"].
            if (m.isTextual()) {
                String[] parts = m.textValue().split(" ", -1);
                if (parts.length != 2) {
                    throw json.error(where, "'" + m.textValue() + "' is not two tokens separated by one space");
                }
                left = parts[0];
                right = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                left = m.get(0).textValue();
                right = m.get(1).textValue();
            } else {
                throw json.error(where, "must be \"a b\" or [\"a\", \"b\"]");
            }
            Integer l = vocab.get(left), r = vocab.get(right), merged = vocab.get(left + right);
            if (l == null || r == null || merged == null) {
                String missing = l == null ? left : r == null ? right : left + right;
                throw json.error(where, "uses '" + missing + "', which is not in the vocabulary");
            }
            // The first line naming a pair decides its rank, as in tokenizers.
            merges.putIfAbsent(pair(l, r), new Merge(rank, merged));
        }
        return merges;
    }

    /** The id of the special token a TemplateProcessing/Roberta/Bert post-processor puts first, or -1. */
    private static int leadingSpecialToken(JsonNode node, Map<String, Integer> vocab, TokenizerJson json, String where)
            throws FormatException {
        if (node == null || node.isNull()) {
            return -1;
        }
        String type = json.type(node, where);
        switch (type) {
            case "Sequence" -> {
                JsonNode list = json.array(node, "processors", where);
                for (int i = 0; i < list.size(); i++) {
                    int id = leadingSpecialToken(list.get(i), vocab, json, where + ".processors[" + i + "]");
                    if (id >= 0) {
                        return id;
                    }
                }
                return -1;
            }
            case "TemplateProcessing" -> {
                JsonNode single = json.array(node, "single", where);
                if (single.isEmpty() || !single.get(0).has("SpecialToken")) {
                    return -1;
                }
                String name = json.text(single.get(0).get("SpecialToken"), "id", where + ".single[0].SpecialToken");
                JsonNode ids = node.path("special_tokens").path(name).path("ids");
                if (ids.isArray() && !ids.isEmpty()) {
                    return json.nonNegativeInt(ids.get(0), where + ".special_tokens['" + name + "'].ids[0]");
                }
                Integer id = vocab.get(name);
                if (id == null) {
                    throw json.error(where + ".single[0]", "names '" + name + "', which is not a known token");
                }
                return id;
            }
            case "RobertaProcessing", "BertProcessing" -> {
                JsonNode cls = node.get("cls");
                if (cls == null || !cls.isArray() || cls.size() != 2) {
                    throw json.error(where + ".cls", "must be [token, id]");
                }
                return json.nonNegativeInt(cls.get(1), where + ".cls[1]");
            }
            default -> {
                return -1;
            }
        }
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

    private static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        List<Integer> out = new ArrayList<>();
        if (addBos && bos >= 0) {
            out.add(bos);
        }
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
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private Added addedAt(String text, int i) {
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

    private void encodeStretch(String stretch, boolean atTextStart, List<Integer> out) {
        if (stretch.isEmpty()) {
            return;
        }
        String normalized = p.normalizer.apply(stretch);
        for (String word : p.preTokenizer.split(List.of(normalized), atTextStart)) {
            for (int id : encodeWord(word)) {
                out.add(id);
            }
        }
    }

    private int[] encodeWord(String word) {
        if (word.isEmpty()) {
            return new int[0];
        }
        if (p.ignoreMerges) {
            Integer whole = p.vocab.get(word);
            if (whole != null) {
                return new int[] {whole};
            }
        }
        List<Integer> symbols = new ArrayList<>();
        boolean pendingUnk = false;
        for (int k = 0; k < word.length(); ) {
            int cp = word.codePointAt(k);
            String c = word.substring(k, k + Character.charCount(cp));
            k += c.length();
            Integer id = p.vocab.get(c);
            if (id == null && p.byteFallback) {
                List<Integer> bytes = new ArrayList<>();
                for (byte v : c.getBytes(StandardCharsets.UTF_8)) {
                    bytes.add(p.byteIds[v & 0xFF]);
                }
                if (!bytes.contains(-1)) {
                    pendingUnk = flushUnk(pendingUnk, symbols);
                    symbols.addAll(bytes);
                    continue;
                }
            }
            if (id != null) {
                pendingUnk = flushUnk(pendingUnk, symbols);
                symbols.add(id);
            } else if (p.unkId >= 0) {
                // Consecutive unknown characters become one unk with fuse_unk, one each without.
                if (pendingUnk && !p.fuseUnk) {
                    symbols.add(p.unkId);
                }
                pendingUnk = true;
            }
            // Without an unk token an unknown character is dropped, as tokenizers does.
        }
        flushUnk(pendingUnk, symbols);
        return BpeMerger.merge(symbols.stream().mapToInt(Integer::intValue).toArray(), new BpeMerger.PairRule() {
            @Override
            public int merged(int left, int right) {
                Merge m = p.merges.get(pair(left, right));
                return m == null ? -1 : m.merged;
            }

            @Override
            public double priority(int left, int right, int merged) {
                return p.merges.get(pair(left, right)).rank;
            }
        });
    }

    private boolean flushUnk(boolean pending, List<Integer> symbols) {
        if (pending) {
            symbols.add(p.unkId);
        }
        return false;
    }

    /** Special tokens decode to nothing; the decoder's start-of-text rules apply after nothing or after BOS. */
    @Override
    public byte[] decodeBytes(int previous, int token) {
        checkId(token);
        if (p.special[token] || p.tokens[token] == null) {
            return new byte[0];
        }
        return p.decoder.decode(p.tokens[token], previous < 0 || previous == bos);
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
