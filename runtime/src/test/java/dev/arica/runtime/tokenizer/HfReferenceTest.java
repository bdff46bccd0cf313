package dev.arica.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * arica's tokenizer.json support against the reference implementation, Hugging Face tokenizers (the Rust
 * library through DJL's JNI binding, whose jar carries the native library: nothing is downloaded). For
 * every bundled tokenizer file and every fixture of {@link HfFixtures}, over the texts of
 * {@link TokenizerCorpus}: ids and type ids with and without special tokens, pairs, and decoding of those
 * ids and of random id sequences with special tokens kept and skipped.
 */
class HfReferenceTest {
    /** Random texts added to the hand-picked ones. */
    static final int RANDOM_TEXTS = 300;
    static final int RANDOM_ID_SEQUENCES = 200;

    @TempDir
    static Path dir;

    static {
        // Belt and braces: DJL must not look anything up online.
        System.setProperty("ai.djl.offline", "true");
    }

    record Case(String name, Path file) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> tokenizers() throws IOException {
        Path bundled = TestModels.dir("tokenizers");
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("all-MiniLM-L6-v2 (WordPiece)", bundled.resolve("all-minilm-l6-v2/tokenizer.json")));
        cases.add(new Case("unigram-small (Unigram)", bundled.resolve("unigram-small/tokenizer.json")));
        cases.add(new Case("GPT-2 (byte-level BPE)", bundled.resolve("gpt2/tokenizer.json")));
        for (var f : List.of(new Object[] {"byte-level BPE", HfFixtures.byteLevel()},
                new Object[] {"sentencepiece BPE", HfFixtures.sentencePiece()}, new Object[] {"WordLevel", HfFixtures.wordLevel()},
                new Object[] {"RobertaProcessing", HfFixtures.roberta()})) {
            String name = (String) f[0];
            cases.add(new Case(name + " fixture", HfFixtures.write(dir, name.replace(' ', '-') + ".json", (ObjectNode) f[1])));
        }
        return cases.stream();
    }

    /** What differed, one line each. */
    private final List<String> mismatches = new ArrayList<>();
    private int compared;

    private void check(String what, Object expected, Object actual) {
        compared++;
        if (!expected.equals(actual)) {
            mismatches.add(what + ": reference " + expected + ", arica " + actual);
        }
    }

    private static List<Integer> list(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).boxed().toList();
    }

    private static List<Integer> list(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    private static long[] longs(int[] ids) {
        return Arrays.stream(ids).asLongStream().toArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tokenizers")
    void sameIdsAndTextAsTheReference(Case c) throws IOException {
        HfTokenizer ours = HfTokenizer.read(c.file);
        List<String> texts = TokenizerCorpus.texts(RANDOM_TEXTS);
        try (HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(c.file).optTruncation(false)
                .optPadding(false).build()) {
            for (int i = 0; i < texts.size(); i++) {
                String text = texts.get(i), q = "text " + i + " " + Arrays.toString(text.codePoints().toArray());
                for (boolean specials : new boolean[] {true, false}) {
                    var expected = ref.encode(text, specials, false);
                    Encoding actual = ours.encode(text, null, specials);
                    check(q + " ids, specials " + specials, list(expected.getIds()), list(actual.ids()));
                    for (boolean skip : new boolean[] {true, false}) {
                        check(q + " decoded, skip " + skip, ref.decode(expected.getIds(), skip),
                                ours.decode(actual.ids(), new DecodeOptions(skip, false)));
                    }
                }
                String pair = texts.get((i * 7 + 3) % texts.size());
                var expected = ref.encode(text, pair, true, false);
                Encoding actual = ours.encode(text, pair, true);
                check(q + " pair ids", list(expected.getIds()), list(actual.ids()));
                check(q + " pair type ids", list(expected.getTypeIds()), list(actual.typeIds()));
            }
            Random r = new Random(7);
            for (int k = 0; k < RANDOM_ID_SEQUENCES; k++) {
                int[] ids = r.ints(1 + r.nextInt(10), 0, ours.vocabSize()).filter(id -> ours.token(id) != null).toArray();
                for (boolean skip : new boolean[] {true, false}) {
                    check("ids " + Arrays.toString(ids) + " decoded, skip " + skip, ref.decode(longs(ids), skip),
                            ours.decode(ids, new DecodeOptions(skip, false)));
                }
            }
        }
        assertTrue(compared >= 7 * (TokenizerCorpus.HAND.size() + RANDOM_TEXTS), "compared only " + compared);
        assertEquals(List.of(), mismatches.subList(0, Math.min(20, mismatches.size())),
                mismatches.size() + " of " + compared + " comparisons differ from the reference");
    }
}
