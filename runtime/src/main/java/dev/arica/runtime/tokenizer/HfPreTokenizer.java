package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The tokenizer.json pre-tokenizers arica supports: they cut normalized text into the words BPE sees. */
sealed interface HfPreTokenizer {

    /**
     * Splits every piece further. {@code atTextStart}: the first piece begins the whole input (not just
     * a stretch after an added token), which Metaspace's {@code prepend_scheme: first} asks about.
     */
    List<String> split(List<String> pieces, boolean atTextStart);

    /** How a split keeps the text a pattern matched. */
    enum Behavior { REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    /** GPT-2's word pattern, which ByteLevel uses when {@code use_regex} is true. */
    Pattern GPT2 = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    record Sequence(List<HfPreTokenizer> steps) implements HfPreTokenizer {
        @Override
        public List<String> split(List<String> pieces, boolean atTextStart) {
            for (HfPreTokenizer p : steps) {
                pieces = p.split(pieces, atTextStart);
            }
            return pieces;
        }
    }

    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements HfPreTokenizer {
        @Override
        public List<String> split(List<String> pieces, boolean atTextStart) {
            List<String> out = new ArrayList<>();
            for (String p : pieces) {
                String s = addPrefixSpace && !p.startsWith(" ") ? " " + p : p;
                for (String w : useRegex ? cut(s, GPT2, Behavior.ISOLATED, false) : List.of(s)) {
                    out.add(ByteLevelAlphabet.encode(w));
                }
            }
            return out;
        }
    }

    record Split(Pattern pattern, Behavior behavior, boolean invert) implements HfPreTokenizer {
        @Override
        public List<String> split(List<String> pieces, boolean atTextStart) {
            List<String> out = new ArrayList<>();
            for (String p : pieces) {
                out.addAll(cut(p, pattern, behavior, invert));
            }
            return out;
        }
    }

    enum PrependScheme { ALWAYS, FIRST, NEVER }

    record Metaspace(String replacement, PrependScheme scheme, boolean splitWords, Pattern splitAt) implements HfPreTokenizer {
        Metaspace(String replacement, PrependScheme scheme, boolean splitWords) {
            // Compiled once here, not on every split.
            this(replacement, scheme, splitWords, Pattern.compile(Pattern.quote(replacement)));
        }

        @Override
        public List<String> split(List<String> pieces, boolean atTextStart) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < pieces.size(); i++) {
                String s = pieces.get(i).replace(" ", replacement);
                boolean prepend = scheme == PrependScheme.ALWAYS || (scheme == PrependScheme.FIRST && atTextStart && i == 0);
                if (prepend && !s.startsWith(replacement)) {
                    s = replacement + s;
                }
                out.addAll(splitWords ? cut(s, splitAt, Behavior.MERGED_WITH_NEXT, false)
                        : List.of(s));
            }
            return out;
        }
    }

    /** Splits at characters: each one {@code delimiter} accepts is a match of its own. */
    record CharSplit(IntPredicate delimiter, Behavior behavior) implements HfPreTokenizer {
        @Override
        public List<String> split(List<String> pieces, boolean atTextStart) {
            List<String> out = new ArrayList<>();
            for (String p : pieces) {
                out.addAll(cut(p, delimiter, behavior));
            }
            return out;
        }
    }

    /** Cuts {@code s} at the matches of {@code pattern}, as tokenizers' split behaviors do. */
    static List<String> cut(String s, Pattern pattern, Behavior behavior, boolean invert) {
        // Alternating stretches of text, each marked as matched (a delimiter) or not.
        List<String> parts = new ArrayList<>();
        List<Boolean> delimiter = new ArrayList<>();
        Matcher m = pattern.matcher(s);
        int last = 0;
        while (m.find()) {
            if (m.end() == m.start()) {
                continue;
            }
            if (m.start() > last) {
                parts.add(s.substring(last, m.start()));
                delimiter.add(invert);
            }
            parts.add(m.group());
            delimiter.add(!invert);
            last = m.end();
        }
        if (last < s.length()) {
            parts.add(s.substring(last));
            delimiter.add(invert);
        }
        return arrange(parts, delimiter, behavior);
    }

    /** Cuts {@code s} before and after every character that {@code isDelimiter} accepts. */
    static List<String> cut(String s, IntPredicate isDelimiter, Behavior behavior) {
        List<String> parts = new ArrayList<>();
        List<Boolean> delimiter = new ArrayList<>();
        int last = 0;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            int next = i + Character.charCount(c);
            if (isDelimiter.test(c)) {
                if (i > last) {
                    parts.add(s.substring(last, i));
                    delimiter.add(false);
                }
                parts.add(s.substring(i, next));
                delimiter.add(true);
                last = next;
            }
            i = next;
        }
        if (last < s.length()) {
            parts.add(s.substring(last));
            delimiter.add(false);
        }
        return arrange(parts, delimiter, behavior);
    }

    /** Applies a split behavior to text cut into alternating stretches marked as delimiters or not. */
    private static List<String> arrange(List<String> parts, List<Boolean> delimiter, Behavior behavior) {
        return switch (behavior) {
            case ISOLATED -> parts;
            case REMOVED -> {
                List<String> kept = new ArrayList<>();
                for (int i = 0; i < parts.size(); i++) {
                    if (!delimiter.get(i)) {
                        kept.add(parts.get(i));
                    }
                }
                yield kept;
            }
            case MERGED_WITH_PREVIOUS -> join(parts, delimiter, false, false);
            // The mirror image of MERGED_WITH_PREVIOUS: the same fold run from the end.
            case MERGED_WITH_NEXT -> join(parts.reversed(), delimiter.reversed(), false, true).reversed();
            case CONTIGUOUS -> join(parts, delimiter, true, false);
        };
    }

    /**
     * One left-to-right pass: a delimiter joins the stretch before it unless that was a delimiter too
     * ({@code contiguous}: only if it was). {@code reversed}: the list runs backwards, so joining puts
     * the delimiter in front.
     */
    private static List<String> join(List<String> parts, List<Boolean> delimiter, boolean contiguous, boolean reversed) {
        List<String> out = new ArrayList<>();
        boolean previousDelimiter = false;
        for (int i = 0; i < parts.size(); i++) {
            boolean d = delimiter.get(i);
            boolean joins = d && !out.isEmpty() && (contiguous == previousDelimiter);
            if (joins) {
                out.set(out.size() - 1, reversed ? parts.get(i) + out.getLast() : out.getLast() + parts.get(i));
            } else {
                out.add(parts.get(i));
            }
            previousDelimiter = d;
        }
        return out;
    }

    String SUPPORTED = "Sequence, ByteLevel, Split, Metaspace, BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, "
            + "Digits";

    /** The Whitespace pre-tokenizer's words: runs of word characters, runs of other non-space characters. */
    Pattern WORDS = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    /** Identity, for {@code "pre_tokenizer": null}. */
    HfPreTokenizer NONE = new Sequence(List.of());

    static HfPreTokenizer parse(JsonNode node, TokenizerJson json, String where) throws FormatException {
        if (node == null || node.isNull()) {
            return NONE;
        }
        String type = json.type(node, where);
        return switch (type) {
            case "Sequence" -> new Sequence(List.copyOf(json.each(node, "pretokenizers", where, (n, w) -> parse(n, json, w))));
            case "ByteLevel" -> new ByteLevel(json.bool(node, "add_prefix_space", true, where),
                    json.bool(node, "use_regex", true, where));
            case "Split" -> new Split(json.pattern(node, where), behavior(json.text(node, "behavior", where), json, where),
                    json.bool(node, "invert", false, where));
            case "Metaspace" -> metaspace(node, json, where);
            // BERT: whitespace removed, then every punctuation character a word of its own.
            case "BertPreTokenizer" -> new Sequence(List.of(new CharSplit(UnicodeChars::whiteSpace, Behavior.REMOVED),
                    new CharSplit(UnicodeChars::bertPunctuation, Behavior.ISOLATED)));
            case "Whitespace" -> new Split(WORDS, Behavior.REMOVED, true);
            case "WhitespaceSplit" -> new CharSplit(UnicodeChars::whiteSpace, Behavior.REMOVED);
            case "Punctuation" -> new CharSplit(UnicodeChars::bertPunctuation, node.hasNonNull("behavior")
                    ? behavior(json.text(node, "behavior", where), json, where) : Behavior.ISOLATED);
            case "Digits" -> new CharSplit(UnicodeChars::numeric,
                    json.bool(node, "individual_digits", false, where) ? Behavior.ISOLATED : Behavior.CONTIGUOUS);
            default -> throw json.error(where, "type '" + type + "' is not supported (supported: " + SUPPORTED + ")");
        };
    }

    private static Behavior behavior(String name, TokenizerJson json, String where) throws FormatException {
        return switch (name) {
            case "Removed" -> Behavior.REMOVED;
            case "Isolated" -> Behavior.ISOLATED;
            case "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> Behavior.CONTIGUOUS;
            default -> throw json.error(where + ".behavior", "'" + name + "' is not a split behavior");
        };
    }

    static Metaspace metaspace(JsonNode node, TokenizerJson json, String where) throws FormatException {
        String replacement = json.text(node, "replacement", where);
        if (replacement.codePointCount(0, replacement.length()) != 1) {
            throw json.error(where + ".replacement", "must be one character, not '" + replacement + "'");
        }
        String scheme = json.optionalText(node, "prepend_scheme", where);
        PrependScheme s;
        if (scheme == null) {
            // Files written before prepend_scheme existed say add_prefix_space instead.
            s = json.bool(node, "add_prefix_space", true, where) ? PrependScheme.ALWAYS : PrependScheme.NEVER;
        } else {
            try {
                s = PrependScheme.valueOf(scheme.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw json.error(where + ".prepend_scheme", "'" + scheme + "' is not always, first or never");
            }
        }
        return new Metaspace(replacement, s, json.bool(node, "split", true, where));
    }
}
