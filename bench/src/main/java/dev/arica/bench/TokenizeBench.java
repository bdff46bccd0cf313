package dev.arica.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import dev.arica.runtime.tokenizer.DecodeOptions;
import dev.arica.runtime.tokenizer.HfTokenizer;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.LongSupplier;

/**
 * Tokenizer speed of arica against the reference, Hugging Face tokenizers (the Rust library through DJL's JNI
 * binding), on the bundled tokenizer files, in one JVM on one thread: every implementation encodes the same
 * seeded corpus ({@link #corpus}) WARMUP times untimed, then RUNS timed passes taking turns with the others (so
 * that the load of a shared machine falls on all alike); the table gives the median pass. In the same run every
 * text's ids from arica are compared with the reference's, and decoding those ids back to text is timed and
 * compared too. Prints a Markdown table; progress goes to stderr. {@code bench/tokenize.sh} runs it.
 *
 * <pre>
 * TokenizeBench MODELS_DIR [TEXTS [RUNS [WARMUP]]]     MODELS_DIR: testdata/models
 * </pre>
 */
public final class TokenizeBench {

    /** Texts the reference's batch calls get at once. */
    static final int BATCH = 1000;

    /** Keeps the JIT from dropping work whose result is unused. */
    static volatile long sink;

    private TokenizeBench() {}

    /** One tokenizer file, read by arica and (where there is one) by the reference. */
    record Subject(String name, Tokenizer arica, HuggingFaceTokenizer reference) {}

    /** A timed way of encoding or decoding the whole corpus; returns a checksum of what it made. */
    record Contender(String label, LongSupplier pass) {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: TokenizeBench MODELS_DIR [TEXTS [RUNS [WARMUP]]]");
            System.exit(2);
        }
        // The reference's native library comes from its jar; nothing is to be looked up online.
        System.setProperty("ai.djl.offline", "true");
        Path models = Path.of(args[0]);
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 2;

        List<String> texts = corpus(count, 14);
        String[] textArray = texts.toArray(String[]::new);
        long bytes = texts.stream().mapToLong(t -> t.getBytes(StandardCharsets.UTF_8).length).sum();
        long chars = texts.stream().mapToLong(String::length).sum();
        System.out.printf(Locale.ROOT, "Corpus: %d texts (seed 14), %.2f MB of UTF-8, %d chars, %.0f bytes a text on average;"
                + " %d timed passes after %d untimed, single thread (batch rows: the reference's own threads).%n%n",
                texts.size(), bytes / 1e6, chars, (double) bytes / texts.size(), runs, warmup);

        List<Subject> subjects = new ArrayList<>();
        subjects.add(hf("all-MiniLM-L6-v2 (WordPiece, BERT normalizer)", models.resolve("tokenizers/all-minilm-l6-v2/tokenizer.json")));
        subjects.add(hf("GPT-2 (byte-level BPE)", models.resolve("tokenizers/gpt2/tokenizer.json")));
        subjects.add(hf("unigram-small (Unigram, byte fallback)", models.resolve("tokenizers/unigram-small/tokenizer.json")));
        subjects.add(new Subject("stories260K tok512.bin (llama2.c BPE)", Tokenizer.open(models.resolve("stories260K/tok512.bin")), null));
        subjects.add(new Subject("tiny-aricate (Aricate words)", Tokenizer.open(models.resolve("tiny-aricate")), null));

        StringBuilder encodeTable = new StringBuilder("| tokenizer | implementation | texts/s | MB/s | tokens/s | s a pass, median (min–max)"
                + " | speed ÷ arica's | same ids as arica |\n|---|---|---:|---:|---:|---:|---:|---|\n");
        StringBuilder decodeTable = new StringBuilder("| tokenizer | implementation | texts/s | tokens/s | MB/s of text"
                + " | s a pass, median (min–max) | speed ÷ arica's | same text as arica |\n|---|---|---:|---:|---:|---:|---:|---|\n");
        for (Subject s : subjects) {
            System.err.println("encoding with " + s.name + " ...");
            int[][] ids = new int[texts.size()][];
            long tokens = 0;
            for (int i = 0; i < ids.length; i++) {
                ids[i] = encodeArica(s.arica, texts.get(i));
                tokens += ids[i].length;
            }
            List<Contender> encoders = new ArrayList<>();
            encoders.add(new Contender("arica", () -> {
                long sum = 0;
                for (String t : texts) {
                    sum += encodeArica(s.arica, t).length;
                }
                return sum;
            }));
            String same = "—";
            if (s.reference != null) {
                HuggingFaceTokenizer ref = s.reference;
                long handle = ref.getHandle();
                same = mismatches(texts, ids, ref) + " differ of " + texts.size();
                encoders.add(new Contender("HF `encode(String)` (DJL, one text a call)", () -> {
                    long sum = 0;
                    for (String t : texts) {
                        sum += ref.encode(t).getIds().length;
                    }
                    return sum;
                }));
                encoders.add(new Contender("HF ids only (DJL's JNI: encode, getTokenIds, deleteEncoding)", () -> {
                    long sum = 0;
                    for (String t : texts) {
                        long enc = TokenizersLibrary.LIB.encode(handle, t, true);
                        sum += TokenizersLibrary.LIB.getTokenIds(enc).length;
                        TokenizersLibrary.LIB.deleteEncoding(enc);
                    }
                    return sum;
                }));
                encoders.add(new Contender("HF `batchEncode` (DJL, " + BATCH + " texts a call, **parallel**)", () -> {
                    long sum = 0;
                    for (int from = 0; from < textArray.length; from += BATCH) {
                        for (var e : ref.batchEncode(Arrays.copyOfRange(textArray, from, Math.min(textArray.length, from + BATCH)))) {
                            sum += e.getIds().length;
                        }
                    }
                    return sum;
                }));
            }
            double[][] t = measure(encoders, runs, warmup);
            for (int k = 0; k < encoders.size(); k++) {
                double m = median(t[k]);
                encodeTable.append(String.format(Locale.ROOT, "| %s | %s | %,.0f | %.2f | %,.0f | %.3f (%.3f–%.3f) | %s | %s |%n",
                        k == 0 ? s.name : "", encoders.get(k).label, texts.size() / m, bytes / 1e6 / m, tokens / m, m, t[k][0],
                        t[k][t[k].length - 1], k == 0 ? "1" : String.format(Locale.ROOT, "%.2f×", median(t[0]) / m),
                        k == 0 ? "" : k == 1 ? same : ""));
            }

            System.err.println("decoding with " + s.name + " ...");
            DecodeOptions skip = new DecodeOptions(true, false);
            String[] decoded = new String[ids.length];
            long outBytes = 0;
            for (int i = 0; i < ids.length; i++) {
                decoded[i] = s.arica.decode(ids[i], skip);
                outBytes += decoded[i].getBytes(StandardCharsets.UTF_8).length;
            }
            List<Contender> decoders = new ArrayList<>();
            decoders.add(new Contender("arica", () -> {
                long sum = 0;
                for (int[] x : ids) {
                    sum += s.arica.decode(x, skip).length();
                }
                return sum;
            }));
            String sameText = "—";
            if (s.reference != null) {
                HuggingFaceTokenizer ref = s.reference;
                long[][] longIds = Arrays.stream(ids).map(x -> Arrays.stream(x).asLongStream().toArray()).toArray(long[][]::new);
                int differ = 0;
                for (int i = 0; i < ids.length; i++) {
                    String r = ref.decode(longIds[i], true);
                    if (!r.equals(decoded[i])) {
                        if (differ++ < 3) {
                            System.err.println("  decoded text differs for text " + i + ": arica '" + decoded[i] + "', reference '" + r + "'");
                        }
                    }
                }
                sameText = differ + " differ of " + ids.length;
                decoders.add(new Contender("HF `decode(long[], true)` (DJL, one text a call)", () -> {
                    long sum = 0;
                    for (long[] x : longIds) {
                        sum += ref.decode(x, true).length();
                    }
                    return sum;
                }));
                decoders.add(new Contender("HF `batchDecode` (DJL, " + BATCH + " texts a call, **parallel**)", () -> {
                    long sum = 0;
                    for (int from = 0; from < longIds.length; from += BATCH) {
                        for (String x : ref.batchDecode(Arrays.copyOfRange(longIds, from, Math.min(longIds.length, from + BATCH)), true)) {
                            sum += x.length();
                        }
                    }
                    return sum;
                }));
            }
            t = measure(decoders, runs, warmup);
            for (int k = 0; k < decoders.size(); k++) {
                double m = median(t[k]);
                decodeTable.append(String.format(Locale.ROOT, "| %s | %s | %,.0f | %,.0f | %.2f | %.3f (%.3f–%.3f) | %s | %s |%n",
                        k == 0 ? s.name : "", decoders.get(k).label, ids.length / m, tokens / m, outBytes / 1e6 / m, m, t[k][0],
                        t[k][t[k].length - 1], k == 0 ? "1" : String.format(Locale.ROOT, "%.2f×", median(t[0]) / m),
                        k == 0 ? "" : k == 1 ? sameText : ""));
            }
            if (s.reference != null) {
                s.reference.close();
            }
        }
        System.out.println("Encoding (ids with the special tokens the tokenizer adds: arica `encode(text, null, true)`,"
                + " llama2.c `encode(text, true)`):\n");
        System.out.println(encodeTable);
        System.out.println("Decoding those ids back to text (special tokens skipped):\n");
        System.out.print(decodeTable);
    }

    private static Subject hf(String name, Path file) throws IOException {
        HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(file).optTruncation(false).optPadding(false)
                .optAddSpecialTokens(true).build();
        return new Subject(name, HfTokenizer.read(file), ref);
    }

    /** The ids a model gets: the post-processed encoding for tokenizer.json, BOS first for the others. */
    private static int[] encodeArica(Tokenizer t, String text) {
        return t instanceof HfTokenizer hf ? hf.encode(text, null, true).ids() : t.encode(text, true);
    }

    /** Texts whose reference ids are not arica's; the first few are printed to stderr. */
    private static int mismatches(List<String> texts, int[][] ids, HuggingFaceTokenizer ref) {
        int differ = 0;
        for (int i = 0; i < texts.size(); i++) {
            long[] r = ref.encode(texts.get(i)).getIds();
            if (!Arrays.equals(r, Arrays.stream(ids[i]).asLongStream().toArray()) && differ++ < 3) {
                System.err.println("  ids differ for text " + i + " '" + texts.get(i) + "': arica " + Arrays.toString(ids[i])
                        + ", reference " + Arrays.toString(r));
            }
        }
        return differ;
    }

    /** Seconds of each contender's timed passes, sorted; contenders take turns pass by pass. */
    private static double[][] measure(List<Contender> contenders, int runs, int warmup) {
        for (Contender c : contenders) {
            for (int w = 0; w < warmup; w++) {
                sink += c.pass.getAsLong();
            }
        }
        double[][] seconds = new double[contenders.size()][runs];
        for (int r = 0; r < runs; r++) {
            for (int k = 0; k < contenders.size(); k++) {
                long t0 = System.nanoTime();
                sink += contenders.get(k).pass.getAsLong();
                seconds[k][r] = (System.nanoTime() - t0) / 1e9;
            }
        }
        for (double[] s : seconds) {
            Arrays.sort(s);
        }
        return seconds;
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static final String[] WORDS = ("the of and to a in is it you that he was for on are with as his they be at one have"
            + " this from or had by hot word but what some we can out other were all there when up use your how said an each she"
            + " which do their time if will way about many then them write would like so these her long make thing see him two"
            + " has look more day could go come did number sound no most people my over know water than call first who may down"
            + " side been now find any new work part take get place made live where after back little only round man year came"
            + " show every good me give our under name very through just form sentence great think say help low line differ turn"
            + " cause much mean before move right boy old too same tell does set three want air well also play small end put home"
            + " read hand port large spell add even land here must big high such follow act why ask men change went light kind off"
            + " need house picture try us again animal point mother world near build self earth father head stand own page should"
            + " country found answer school grow study still learn plant cover food sun four between state keep eye never last let"
            + " thought city tree cross farm hard start might story saw far sea draw left late run while press close night real life"
            + " tokenizer unbelievable internationalization transformers embeddings quantization").split(" ");
    private static final String[] NAMES = {"Alice", "Bob", "London", "Paris", "Tuesday", "September", "Google", "NASA", "Mr.",
        "Dr.", "Europe", "Amazon", "McDonald", "iPhone", "GitHub", "O'Brien", "JavaScript", "COVID-19"};
    private static final String[] ACCENTED = {"café", "naïve", "façade", "résumé", "Zürich", "São Paulo", "Ærøskøbing",
        "crème brûlée", "jalapeño", "Straße", "Kraków", "Dvořák", "Ångström", "über", "déjà vu", "piñata", "Málaga", "Þórshöfn",
        "İstanbul", "Ελλάδα", "Москва", "coöperate", "fiancée", "Škoda"};
    private static final String[] CJK = {"日本語のテキスト", "東京は大きな都市です", "中文字符", "你好，世界", "한국어 텍스트", "안녕하세요",
        "漢字", "ありがとう"};
    private static final String[] EMOJI = {"👍", "😀", "🎉", "🚀", "❤️", "🇫🇷", "👨‍👩‍👧", "☕", "🤖", "✨"};
    private static final String[] CONTRACTIONS = {"don't", "it's", "they're", "we'll", "I've", "can't", "she'd", "you're",
        "isn't", "o'clock", "rock'n'roll"};

    /**
     * {@code n} texts from a fixed seed: paragraphs of one to six sentences of 4 to 19 words, mostly common English
     * words with capitals, commas, quotes, parentheses, contractions and numbers (integers, years, decimals, prices,
     * percentages, times, dates), and now and then an accented or non-Latin word, a CJK phrase or an emoji; a few
     * paragraphs have line breaks.
     */
    static List<String> corpus(int n, long seed) {
        Random r = new Random(seed);
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            StringBuilder p = new StringBuilder();
            int sentences = 1 + r.nextInt(6);
            for (int s = 0; s < sentences; s++) {
                if (s > 0) {
                    p.append(r.nextInt(12) == 0 ? (r.nextBoolean() ? "\n" : "\n\n") : " ");
                }
                p.append(sentence(r));
            }
            out.add(p.toString());
        }
        return out;
    }

    private static String sentence(Random r) {
        int words = 4 + r.nextInt(16);
        StringBuilder b = new StringBuilder();
        int quoteAt = r.nextInt(8) == 0 ? r.nextInt(words) : -1;
        int parenAt = r.nextInt(10) == 0 ? r.nextInt(words) : -1;
        for (int w = 0; w < words; w++) {
            if (w > 0) {
                b.append(' ');
            }
            String open = w == quoteAt ? "\"" : w == parenAt ? "(" : "";
            String word = word(r);
            if (w == 0 && Character.isLowerCase(word.codePointAt(0))) {
                word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
            }
            b.append(open).append(word);
            if (w == quoteAt && w + 1 < words) {
                b.append('"');
            } else if (w == parenAt) {
                b.append(')');
            }
            if (w + 1 < words && r.nextInt(12) == 0) {
                b.append(r.nextInt(5) == 0 ? ";" : ",");
            }
        }
        int end = r.nextInt(100);
        return b.append(end < 70 ? "." : end < 82 ? "?" : end < 92 ? "!" : end < 96 ? "..." : ":").toString();
    }

    private static String word(Random r) {
        int k = r.nextInt(1000);
        if (k < 60) {
            return number(r);
        }
        if (k < 110) {
            return ACCENTED[r.nextInt(ACCENTED.length)];
        }
        if (k < 125) {
            return CJK[r.nextInt(CJK.length)];
        }
        if (k < 140) {
            return EMOJI[r.nextInt(EMOJI.length)];
        }
        if (k < 190) {
            return CONTRACTIONS[r.nextInt(CONTRACTIONS.length)];
        }
        if (k < 250) {
            return NAMES[r.nextInt(NAMES.length)];
        }
        return WORDS[r.nextInt(WORDS.length)];
    }

    private static String number(Random r) {
        return switch (r.nextInt(8)) {
            case 0 -> Integer.toString(r.nextInt(10));
            case 1 -> Integer.toString(1900 + r.nextInt(131));
            case 2 -> String.format(Locale.ROOT, "%d.%02d", r.nextInt(100), r.nextInt(100));
            case 3 -> String.format(Locale.ROOT, "$%d.%02d", r.nextInt(1000), r.nextInt(100));
            case 4 -> r.nextInt(101) + "%";
            case 5 -> String.format(Locale.ROOT, "%d:%02d", r.nextInt(24), r.nextInt(60));
            case 6 -> String.format(Locale.ROOT, "%d-%02d-%02d", 2000 + r.nextInt(30), 1 + r.nextInt(12), 1 + r.nextInt(28));
            default -> String.format(Locale.ROOT, "%,d", r.nextInt(10_000_000));
        };
    }
}
