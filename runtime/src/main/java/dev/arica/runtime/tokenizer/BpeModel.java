package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * BPE as tokenizers runs it: one symbol per character (or its {@code <0xNN>} bytes with byte fallback, or
 * the unknown token), then merges by rank, lowest first and leftmost on ties.
 */
final class BpeModel implements HfModel {

    private final Map<String, Integer> vocab;
    /** Pairs that merge: first the merged id, second the rank. */
    private final PairTable merges;
    private final boolean byteFallback, ignoreMerges, fuseUnk;
    private final int unkId;
    private final int[] byteIds;
    /** The id of each one-character token below {@link #SMALL_CHARS} (-1: none), saving a substring and a look-up a character. */
    private final int[] smallCharIds;

    /** Covers Latin, Greek, Cyrillic and GPT-2's byte stand-ins (up to U+0143). */
    private static final int SMALL_CHARS = 0x800;

    private BpeModel(Map<String, Integer> vocab, PairTable merges, boolean byteFallback, boolean ignoreMerges,
            boolean fuseUnk, int unkId) {
        this.vocab = vocab;
        this.merges = merges;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        this.fuseUnk = fuseUnk;
        this.unkId = unkId;
        this.byteIds = new int[256];
        for (int v = 0; v < 256; v++) {
            byteIds[v] = vocab.getOrDefault(String.format("<0x%02X>", v), -1);
        }
        this.smallCharIds = new int[SMALL_CHARS];
        for (char c = 0; c < SMALL_CHARS; c++) {
            smallCharIds[c] = vocab.getOrDefault(String.valueOf(c), -1);
        }
    }

    static BpeModel parse(JsonNode model, TokenizerJson json, String where) throws FormatException {
        for (String field : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            String v = json.optionalText(model, field, where);
            if (v != null && !v.isEmpty()) {
                throw json.error(where + "." + field, "'" + v + "' is not supported");
            }
        }
        JsonNode dropout = model.get("dropout");
        if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0) {
            throw json.error(where + ".dropout", dropout + " is not supported (generation needs deterministic encoding)");
        }
        Map<String, Integer> vocab = json.vocabObject(model, "vocab", where);
        int unk = -1;
        if (json.optionalText(model, "unk_token", where) != null) {
            unk = json.tokenId(model, "unk_token", vocab, where);
        }
        return new BpeModel(vocab, readMerges(model, vocab, json, where), json.bool(model, "byte_fallback", false, where),
                json.bool(model, "ignore_merges", false, where), json.bool(model, "fuse_unk", false, where), unk);
    }

    private static PairTable readMerges(JsonNode model, Map<String, Integer> vocab, TokenizerJson json, String where)
            throws FormatException {
        JsonNode list = model.get("merges");
        if (list == null || list.isNull()) {
            return new PairTable(0);
        }
        if (!list.isArray()) {
            throw json.error(where + ".merges", "must be an array");
        }
        PairTable merges = new PairTable(list.size());
        for (int rank = 0; rank < list.size(); rank++) {
            JsonNode m = list.get(rank);
            String at = where + ".merges[" + rank + "]";
            String left, right;
            // Older files write "a b", newer ones ["a", "b"].
            if (m.isTextual()) {
                String[] parts = m.textValue().split(" ", -1);
                if (parts.length != 2) {
                    throw json.error(at, "'" + m.textValue() + "' is not two tokens separated by one space");
                }
                left = parts[0];
                right = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                left = m.get(0).textValue();
                right = m.get(1).textValue();
            } else {
                throw json.error(at, "must be \"a b\" or [\"a\", \"b\"]");
            }
            Integer l = vocab.get(left), r = vocab.get(right), merged = vocab.get(left + right);
            if (l == null || r == null || merged == null) {
                String missing = l == null ? left : r == null ? right : left + right;
                throw json.error(at, "uses '" + missing + "', which is not in the vocabulary");
            }
            // The first line naming a pair decides its rank, as in tokenizers.
            merges.putIfAbsent(l, r, merged, rank);
        }
        return merges;
    }

    @Override
    public Map<String, Integer> vocab() {
        return vocab;
    }

    @Override
    public void tokenize(String word, IntList out) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        IntList symbols = new IntList();
        boolean pendingUnk = false;
        for (int k = 0; k < word.length(); ) {
            int cp = word.codePointAt(k);
            int end = k + Character.charCount(cp);
            int id = cp < SMALL_CHARS ? smallCharIds[cp] : vocab.getOrDefault(word.substring(k, end), -1);
            if (id < 0 && byteFallback) {
                byte[] utf8 = word.substring(k, end).getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte v : utf8) {
                    all &= byteIds[v & 0xFF] >= 0;
                }
                if (all) {
                    pendingUnk = flushUnk(pendingUnk, symbols);
                    for (byte v : utf8) {
                        symbols.add(byteIds[v & 0xFF]);
                    }
                    k = end;
                    continue;
                }
            }
            k = end;
            if (id >= 0) {
                pendingUnk = flushUnk(pendingUnk, symbols);
                symbols.add(id);
            } else if (unkId >= 0) {
                // Consecutive unknown characters become one unk with fuse_unk, one each without.
                if (pendingUnk && !fuseUnk) {
                    symbols.add(unkId);
                }
                pendingUnk = true;
            }
            // Without an unk token an unknown character is dropped, as tokenizers does.
        }
        flushUnk(pendingUnk, symbols);
        for (int id : BpeMerger.merge(symbols.toArray(), new BpeMerger.PairRule() {
            @Override
            public int merged(int left, int right) {
                int k = merges.find(left, right);
                return k < 0 ? -1 : merges.first(k);
            }

            @Override
            public double priority(int left, int right, int merged) {
                return merges.second(merges.find(left, right));
            }
        })) {
            out.add(id);
        }
    }

    private boolean flushUnk(boolean pending, IntList symbols) {
        if (pending) {
            symbols.add(unkId);
        }
        return false;
    }
}
