package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A tokenizer.json decoder, run one token at a time for streaming. tokenizers' decoders work on the whole
 * list of tokens; they are per-token except where noted: {@code Fuse} and {@code ByteLevel} join all
 * tokens into one, so a later {@code Strip} acts on the start of the whole text, i.e. on the first token.
 */
record HfDecoder(List<Step> steps, boolean spaced) {

    sealed interface Step {}

    /** Replaces a literal string; tokenizers' decoders only ever use string patterns here. */
    record Replace(byte[] pattern, byte[] content) implements Step {}

    /** {@code <0xNN>} tokens become the byte NN. */
    record ByteFallback() implements Step {}

    /** Joins all tokens into one. */
    record Fuse() implements Step {}

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} characters. */
    record Strip(byte[] content, int start, int stop) implements Step {}

    /** Byte-level stand-in characters back to bytes; joins all tokens. */
    record ByteLevel() implements Step {}

    /** The Metaspace replacement back to a space, the first one dropped at the start of the text. */
    record Metaspace(byte[] replacement, boolean prepended) implements Step {}

    /** Continuation tokens lose their prefix, others get a space before them but at the start; optional clean-up. */
    record WordPiece(String prefix, boolean cleanup) implements Step {}

    /** No decoder: tokenizers joins the tokens with spaces. */
    static final HfDecoder NONE = new HfDecoder(List.of(), true);

    static final String SUPPORTED = "Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel, Metaspace, WordPiece";

    /**
     * The bytes of {@code token} (a vocabulary entry); {@code first}: it is the first token decoded (the
     * tokens skipped before it not counted), where tokenizers' decoders treat a token differently.
     */
    byte[] decode(String token, boolean first) {
        byte[] v = (spaced && !first ? " " + token : token).getBytes(StandardCharsets.UTF_8);
        boolean joined = false;
        for (Step step : steps) {
            switch (step) {
                case Replace r -> v = replace(v, r.pattern, r.content);
                case ByteFallback b -> {
                    int value = Llama2cBpeTokenizer.byteValue(v);
                    if (value >= 0) {
                        v = new byte[] {(byte) value};
                    }
                }
                case Fuse f -> joined = true;
                case Strip s -> {
                    if (!joined || first) {
                        v = strip(v, s.content, s.start, joined ? 0 : s.stop);
                    }
                }
                case ByteLevel b -> {
                    byte[] bytes = ByteLevelAlphabet.decode(new String(v, StandardCharsets.UTF_8));
                    // A token that is not all stand-ins (an added token) is kept as it is, as tokenizers does.
                    if (bytes != null) {
                        v = bytes;
                    }
                    joined = true;
                }
                case WordPiece w -> {
                    String t = new String(v, StandardCharsets.UTF_8);
                    if (!first) {
                        t = t.startsWith(w.prefix) ? t.substring(w.prefix.length()) : " " + t;
                    }
                    v = utf8(w.cleanup ? SpaceCleanup.wordPiece(t) : t);
                }
                case Metaspace m -> {
                    v = replace(v, m.replacement, new byte[] {' '});
                    if (first && m.prepended) {
                        v = strip(v, new byte[] {' '}, 1, 0);
                    }
                }
            }
        }
        return v;
    }

    /** True for a {@code <0xNN>} token when this decoder turns those into bytes. */
    boolean fallbackByte(String token) {
        return token != null && steps.stream().anyMatch(s -> s instanceof ByteFallback)
                && Llama2cBpeTokenizer.byteValue(token.getBytes(StandardCharsets.UTF_8)) >= 0;
    }

    static byte[] replace(byte[] v, byte[] pattern, byte[] content) {
        if (pattern.length == 0) {
            return v;
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(v.length);
        int i = 0;
        while (i < v.length) {
            if (i + pattern.length <= v.length && Arrays.equals(v, i, i + pattern.length, pattern, 0, pattern.length)) {
                out.writeBytes(content);
                i += pattern.length;
            } else {
                out.write(v[i++]);
            }
        }
        return out.toByteArray();
    }

    static byte[] strip(byte[] v, byte[] content, int start, int stop) {
        int from = 0, to = v.length;
        for (int k = 0; k < start && from + content.length <= to
                && Arrays.equals(v, from, from + content.length, content, 0, content.length); k++) {
            from += content.length;
        }
        for (int k = 0; k < stop && to - content.length >= from
                && Arrays.equals(v, to - content.length, to, content, 0, content.length); k++) {
            to -= content.length;
        }
        return Arrays.copyOfRange(v, from, to);
    }

    static HfDecoder parse(JsonNode node, TokenizerJson json, String where) throws FormatException {
        if (node == null || node.isNull()) {
            return NONE;
        }
        List<Step> steps = new ArrayList<>();
        add(node, json, where, steps);
        boolean joined = false;
        for (Step s : steps) {
            joined |= s instanceof Fuse || s instanceof ByteLevel;
            if (joined && s instanceof Strip strip && strip.stop > 0) {
                throw json.error(where, "strips the end of the whole text (Strip stop " + strip.stop
                        + " after Fuse), which a streaming decoder cannot know");
            }
        }
        return new HfDecoder(List.copyOf(steps), false);
    }

    private static void add(JsonNode node, TokenizerJson json, String where, List<Step> steps) throws FormatException {
        String type = json.type(node, where);
        switch (type) {
            case "Sequence" -> json.each(node, "decoders", where, (n, w) -> {
                add(n, json, w, steps);
                return null;
            });
            case "Replace" -> {
                JsonNode p = node.get("pattern");
                if (p == null || !p.isObject() || p.size() != 1 || !p.has("String") || !p.get("String").isTextual()) {
                    throw json.error(where + ".pattern", "must be {\"String\": ...} (regex patterns are not supported in decoders)");
                }
                steps.add(new Replace(utf8(p.get("String").textValue()), utf8(json.text(node, "content", where))));
            }
            case "ByteFallback" -> steps.add(new ByteFallback());
            case "Fuse" -> steps.add(new Fuse());
            case "Strip" -> steps.add(new Strip(utf8(json.text(node, "content", where)),
                    json.nonNegativeInt(node.get("start"), where + ".start"), json.nonNegativeInt(node.get("stop"), where + ".stop")));
            case "ByteLevel" -> steps.add(new ByteLevel());
            case "Metaspace" -> {
                HfPreTokenizer.Metaspace m = HfPreTokenizer.metaspace(node, json, where);
                steps.add(new Metaspace(utf8(m.replacement()), m.scheme() != HfPreTokenizer.PrependScheme.NEVER));
            }
            case "WordPiece" -> {
                String prefix = json.optionalText(node, "prefix", where);
                steps.add(new WordPiece(prefix == null ? "##" : prefix, json.bool(node, "cleanup", true, where)));
            }
            default -> throw json.error(where, "type '" + type + "' is not supported (supported: " + SUPPORTED + ")");
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
