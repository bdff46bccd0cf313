package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Sentencepiece's unigram model: the segmentation of the word into vocabulary pieces with the highest sum
 * of piece scores (Viterbi). A character no piece starts with is an unknown piece scored 10 below the
 * lowest score; adjacent unknown pieces are fused into one, which becomes its {@code <0xNN>} bytes with
 * {@code byte_fallback}, else the unknown id. Ties keep the path found first, as tokenizers does.
 */
final class UnigramModel implements HfModel {
    /** sentencepiece's kUnkPenalty. */
    private static final double UNK_PENALTY = 10.0;

    private final Map<String, Integer> vocab;
    private final double[] scores;
    private final int unkId;
    private final boolean byteFallback;
    private final int maxPieceChars;
    private final double unkScore;
    /** The id of each byte's {@code <0xNN>} piece, -1 where there is none. */
    private final int[] byteIds = new int[256];

    private UnigramModel(Map<String, Integer> vocab, double[] scores, int unkId, boolean byteFallback) {
        this.vocab = vocab;
        this.scores = scores;
        this.unkId = unkId;
        this.byteFallback = byteFallback;
        double min = Double.POSITIVE_INFINITY;
        for (double s : scores) {
            min = Math.min(min, s);
        }
        this.unkScore = min - UNK_PENALTY;
        this.maxPieceChars = vocab.keySet().stream().mapToInt(String::length).max().orElse(0);
        for (int v = 0; v < 256; v++) {
            byteIds[v] = vocab.getOrDefault(String.format("<0x%02X>", v), -1);
        }
    }

    static UnigramModel parse(JsonNode model, TokenizerJson json, String where) throws FormatException {
        JsonNode list = json.array(model, "vocab", where);
        if (list.isEmpty()) {
            throw json.error(where + ".vocab", "is empty");
        }
        Map<String, Integer> vocab = new HashMap<>(2 * list.size());
        double[] scores = new double[list.size()];
        for (int id = 0; id < list.size(); id++) {
            JsonNode e = list.get(id);
            String at = where + ".vocab[" + id + "]";
            if (!e.isArray() || e.size() != 2 || !e.get(0).isTextual()) {
                throw json.error(at, "must be [piece, score]");
            }
            String piece = e.get(0).textValue();
            if (piece.isEmpty()) {
                throw json.error(at, "is an empty piece");
            }
            scores[id] = json.number(e.get(1), at + "[1]");
            Integer other = vocab.putIfAbsent(piece, id);
            if (other != null) {
                throw json.error(at, "repeats '" + piece + "', already id " + other);
            }
        }
        int unk = json.optionalInt(model, "unk_id", -1, where);
        if (unk >= list.size()) {
            throw json.error(where + ".unk_id", unk + " is outside the vocabulary of " + list.size());
        }
        return new UnigramModel(Collections.unmodifiableMap(vocab), scores, unk, json.bool(model, "byte_fallback", false, where));
    }

    @Override
    public Map<String, Integer> vocab() {
        return vocab;
    }

    @Override
    public void tokenize(String word, IntList out) {
        int n = word.length();
        // best[end]: the best path over word[0, end): its score, the start and id of its last piece.
        double[] best = new double[n + 1];
        int[] from = new int[n + 1];
        int[] id = new int[n + 1];
        Arrays.fill(from, -1);
        for (int start = 0; start < n; start += Character.charCount(word.codePointAt(start))) {
            if (start > 0 && from[start] < 0) {
                continue;
            }
            int charEnd = start + Character.charCount(word.codePointAt(start));
            boolean single = false;
            // Shorter pieces first, as a trie's prefix search yields them.
            for (int end = charEnd; end <= n && end - start <= maxPieceChars; ) {
                Integer piece = vocab.get(word.substring(start, end));
                if (piece != null) {
                    offer(best, from, id, start, end, piece, scores[piece]);
                    single |= end == charEnd;
                }
                if (end == n) {
                    break;
                }
                end += Character.charCount(word.codePointAt(end));
            }
            if (!single) {
                if (unkId < 0) {
                    throw new IllegalArgumentException("'" + word.substring(start, charEnd)
                            + "' has no piece in the Unigram vocabulary, which has no unk_id");
                }
                offer(best, from, id, start, charEnd, unkId, unkScore);
            }
        }
        List<String> pieces = new ArrayList<>();
        StringBuilder unknown = new StringBuilder();
        for (int end = n; end > 0; end = from[end]) {
            String piece = word.substring(from[end], end);
            if (id[end] == unkId) {
                unknown.insert(0, piece);
            } else {
                if (!unknown.isEmpty()) {
                    pieces.add(unknown.toString());
                    unknown.setLength(0);
                }
                pieces.add(piece);
            }
        }
        if (!unknown.isEmpty()) {
            pieces.add(unknown.toString());
        }
        for (String piece : pieces.reversed()) {
            emit(piece, out);
        }
    }

    private void offer(double[] best, int[] from, int[] id, int start, int end, int piece, double score) {
        double candidate = score + best[start];
        if (from[end] < 0 || candidate > best[end]) {
            best[end] = candidate;
            from[end] = start;
            id[end] = piece;
        }
    }

    private void emit(String piece, IntList out) {
        Integer known = vocab.get(piece);
        if (known != null) {
            out.add(known);
            return;
        }
        if (byteFallback) {
            byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
            boolean all = true;
            for (byte b : utf8) {
                all &= byteIds[b & 0xFF] >= 0;
            }
            if (all) {
                for (byte b : utf8) {
                    out.add(byteIds[b & 0xFF]);
                }
                return;
            }
        }
        out.add(unkId);
    }
}
