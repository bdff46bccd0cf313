package dev.arica.formats.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.Json;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.Family;
import dev.arica.formats.model.LlamaFamily;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.testing.GgufTestFile;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizers as tokenizer.ggml.* metadata, written and read back by the test parse. */
class GgufVocabularyTest {

    @TempDir
    Path tmp;

    /** The metadata written alone into a GGUF file and parsed back. */
    private GgufTestFile written(GgufKeyValues kv) throws IOException {
        Path out = tmp.resolve("v" + System.nanoTime() + ".gguf");
        try (GgufWriter w = GgufWriter.create(out, List.of(), kv)) {
            w.commit();
        }
        return GgufTestFile.read(out);
    }

    private static DecoderConfig llama(int vocab, Integer bos, List<Integer> eos) throws FormatException {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.put("hidden_size", 64).put("intermediate_size", 128).put("num_hidden_layers", 1).put("num_attention_heads", 4)
                .put("vocab_size", vocab);
        return LlamaFamily.LLAMA.config(new ConfigFields(Path.of("config.json"), c), new Family.TokenIds(bos, eos));
    }

    private GgufTestFile fromTokenizerJson(String json, DecoderConfig c) throws IOException {
        return written(GgufVocabulary.of(List.of(AuxFile.of("tokenizer.json", json.getBytes(StandardCharsets.UTF_8))), c,
                tmp));
    }

    @Test
    void llama2cTokenizerIsWhatLlamaCppsConverterWrote() throws IOException {
        GgufTestFile reference = GgufTestFile.read(Stories260K.dir().resolve("gguf/stories260K-f32.gguf"));
        GgufTestFile ours;
        try (Llama2cCheckpoint in = Llama2cCheckpoint.open(Stories260K.checkpoint(), null)) {
            DecoderConfig c = ModelDescription.of(in, "").decoder();
            ours = written(GgufVocabulary.of(in.auxFiles(), c, in.path()));
        }
        for (String key : List.of(GgufKeys.TOKENIZER_MODEL, GgufKeys.TOKENS, GgufKeys.SCORES, GgufKeys.TOKEN_TYPE,
                GgufKeys.BOS_ID, GgufKeys.EOS_ID)) {
            assertEquals(reference.metadata().get(key), ours.metadata().get(key), key);
        }
        assertEquals(0L, ours.get(GgufKeys.UNK_ID));
        @SuppressWarnings("unchecked")
        List<String> tokens = (List<String>) ours.get(GgufKeys.TOKENS);
        assertEquals("\u2581upon", tokens.get(407), "spaces written as sentencepiece's U+2581");
    }

    @Test
    void byteLevelBpeIsGpt2WithMerges() throws IOException {
        String json = """
                {"added_tokens": [{"id": 0, "content": "<|bos|>", "special": true},
                                  {"id": 1, "content": "<|eos|>", "special": true},
                                  {"id": 7, "content": "<tool>", "special": false}],
                 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
                 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}},
                                   {"Sequence": {"id": "A", "type_id": 0}}]},
                 "decoder": {"type": "ByteLevel"},
                 "model": {"type": "BPE", "vocab": {"<|bos|>": 0, "<|eos|>": 1, "a": 2, "b": 3, "\u0120": 4, "ab": 5,
                           "\u0120ab": 6}, "merges": ["a b", ["\u0120", "ab"]]}}
                """;
        GgufTestFile f = fromTokenizerJson(json, llama(9, 0, List.of(1)));
        assertEquals("gpt2", f.get(GgufKeys.TOKENIZER_MODEL));
        assertEquals("gpt-2", f.get(GgufKeys.TOKENIZER_PRE));
        assertEquals(List.of("<|bos|>", "<|eos|>", "a", "b", "\u0120", "ab", "\u0120ab", "<tool>", "[PAD8]"),
                f.get(GgufKeys.TOKENS));
        assertEquals(List.of(3L, 3L, 1L, 1L, 1L, 1L, 1L, 4L, 5L), f.get(GgufKeys.TOKEN_TYPE));
        assertEquals(List.of("a b", "\u0120 ab"), f.get(GgufKeys.MERGES));
        assertEquals(0L, f.get(GgufKeys.BOS_ID));
        assertEquals(1L, f.get(GgufKeys.EOS_ID));
        assertEquals(true, f.get(GgufKeys.ADD_BOS));
        assertFalse(f.metadata().containsKey(GgufKeys.SCORES));

        String llama3 = json.replace("\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                + "\"trim_offsets\": true, \"use_regex\": true}", "\"pre_tokenizer\": {\"type\": \"Sequence\", "
                + "\"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
                + Json.MAPPER.writeValueAsString("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                        + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
                + "}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                + "\"trim_offsets\": true, \"use_regex\": false}]}");
        assertTrue(llama3.contains("Split"));
        assertEquals("llama-bpe", fromTokenizerJson(llama3, llama(9, 0, List.of(1))).get(GgufKeys.TOKENIZER_PRE));

        String other = json.replace("\"use_regex\": true", "\"use_regex\": false");
        FormatException e = assertThrows(FormatException.class, () -> fromTokenizerJson(other, llama(9, 0, List.of(1))));
        assertTrue(e.getMessage().contains("pre_tokenizer"), e.getMessage());
        assertThrows(FormatException.class, () -> fromTokenizerJson(json, llama(6, 0, List.of(1))), "ids beyond the model");
    }

    @Test
    void sentencepieceStyleBpeIsLlamaScoredByMergeRank() throws IOException {
        String json = """
                {"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
                                  {"id": 2, "content": "</s>", "special": true}],
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                 "pre_tokenizer": null,
                 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                   {"Sequence": {"id": "A", "type_id": 0}}]},
                 "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}]},
                 "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
                           "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "\u2581": 4, "a": 5, "\u2581a": 6,
                                     "aa": 7, "\u2581aa": 8},
                           "merges": ["\u2581 a", "a a", "\u2581 aa"]}}
                """;
        GgufTestFile f = fromTokenizerJson(json, llama(9, 1, List.of(2)));
        assertEquals("llama", f.get(GgufKeys.TOKENIZER_MODEL));
        assertEquals(List.of(0f, 0f, 0f, 0f, 0f, 0f, 0f, -1f, -2f), f.get(GgufKeys.SCORES));
        assertEquals(List.of(2L, 3L, 3L, 6L, 1L, 1L, 1L, 1L, 1L), f.get(GgufKeys.TOKEN_TYPE));
        assertEquals(0L, f.get(GgufKeys.UNK_ID));
        assertEquals(true, f.get(GgufKeys.ADD_BOS));
        assertEquals(true, f.get(GgufKeys.ADD_SPACE_PREFIX));
    }

    @Test
    void unigramKeepsItsScores() throws IOException {
        Path file = TestModels.dir("tokenizers/unigram-small").resolve("tokenizer.json");
        GgufTestFile f = written(GgufVocabulary.of(List.of(AuxFile.copyOf("tokenizer.json", file)),
                llama(351, null, List.of(1)), tmp));
        assertEquals("llama", f.get(GgufKeys.TOKENIZER_MODEL));
        @SuppressWarnings("unchecked")
        List<Object> scores = (List<Object>) f.get(GgufKeys.SCORES);
        assertEquals(-2f, scores.get(259));
        assertEquals(-3.2f, scores.get(261));
        @SuppressWarnings("unchecked")
        List<Long> types = (List<Long>) f.get(GgufKeys.TOKEN_TYPE);
        assertEquals(List.of(3L, 3L, 2L, 6L), new ArrayList<>(types.subList(0, 4)));
        assertEquals(1L, types.get(259));
        assertEquals(2L, f.get(GgufKeys.UNK_ID));
        assertEquals(false, f.get(GgufKeys.ADD_BOS), "the template appends </s> and puts nothing first");
        assertEquals(true, f.get(GgufKeys.ADD_SPACE_PREFIX));
        assertFalse(f.metadata().containsKey(GgufKeys.BOS_ID));
    }

    @Test
    void withoutATokenizerTheModelIsNone() throws IOException {
        GgufTestFile f = written(GgufVocabulary.of(List.of(), llama(9, 1, List.of(2)), tmp));
        assertEquals("none", f.get(GgufKeys.TOKENIZER_MODEL));
        assertEquals(1, f.metadata().size());
    }

    @Test
    void otherModelsAreRefused() {
        String wordPiece = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}";
        FormatException e = assertThrows(FormatException.class, () -> fromTokenizerJson(wordPiece, llama(9, 1, List.of(2))));
        assertTrue(e.getMessage().contains("WordPiece"), e.getMessage());
        String plainBpe = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
        assertThrows(FormatException.class, () -> fromTokenizerJson(plainBpe, llama(9, 1, List.of(2))));
    }
}
