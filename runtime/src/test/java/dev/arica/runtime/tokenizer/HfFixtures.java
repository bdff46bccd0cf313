package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small tokenizer.json files built in code, written the way tokenizers serialises them. */
final class HfFixtures {
    static final JsonNodeFactory F = JsonNodeFactory.instance;

    private HfFixtures() {}

    /**
     * GPT-2's byte stand-ins, written out from the published rule independently of the code under test:
     * bytes 33..126, 161..172 and 174..255 are themselves, the rest U+0100 upwards in byte order.
     */
    static String byteChar(int b) {
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
            return String.valueOf((char) b);
        }
        int rank = 0;
        for (int x = 0; x < b; x++) {
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) {
                rank++;
            }
        }
        return String.valueOf((char) (256 + rank));
    }

    /** A BPE model node: vocabulary in insertion order, merges as "a b" strings. */
    static ObjectNode bpe(Map<String, Integer> vocab, List<String> merges, boolean byteFallback) {
        ObjectNode model = F.objectNode();
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", byteFallback);
        model.put("byte_fallback", byteFallback);
        model.put("ignore_merges", false);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        merges.forEach(m::add);
        return model;
    }

    static ObjectNode added(int id, String content, boolean special) {
        ObjectNode a = F.objectNode();
        a.put("id", id).put("content", content).put("single_word", false).put("lstrip", false).put("rstrip", false)
                .put("normalized", !special).put("special", special);
        return a;
    }

    static ObjectNode typed(String type) {
        return F.objectNode().put("type", type);
    }

    static ObjectNode root(ObjectNode model) {
        ObjectNode r = F.objectNode();
        r.put("version", "1.0");
        r.putNull("truncation");
        r.putNull("padding");
        r.putArray("added_tokens");
        r.putNull("normalizer");
        r.putNull("pre_tokenizer");
        r.putNull("post_processor");
        r.putNull("decoder");
        r.set("model", model);
        return r;
    }

    /**
     * Byte-level (GPT-2 style): ids 0..255 are the byte stand-ins in byte order (so the id of a lone byte
     * is its value), then merges 256.. in rank order, then the special {@code <|endoftext|>}.
     */
    static ObjectNode byteLevel() {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(byteChar(b), b);
        }
        String g = byteChar(' ');
        List<String> merges = List.of(
                g + " t",     // rank 0 -> "Ġt"    256
                "h e",        // rank 1 -> "he"    257
                g + "t he",   // rank 2 -> "Ġthe"  258
                "l l",        // rank 3 -> "ll"    259
                "he ll",      // rank 4 -> "hell"  260
                "hell o",     // rank 5 -> "hello" 261
                "b c",        // rank 6 -> "bc"    262
                "a b");       // rank 7 -> "ab"    263
        int next = 256;
        for (String m : merges) {
            vocab.put(m.replace(" ", ""), next++);
        }
        ObjectNode r = root(bpe(vocab, merges, false));
        ((ArrayNode) r.get("added_tokens")).add(added(264, "<|endoftext|>", true));
        r.set("pre_tokenizer", typed("ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true));
        r.set("post_processor", typed("ByteLevel").put("add_prefix_space", true).put("trim_offsets", false).put("use_regex", true));
        r.set("decoder", typed("ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true));
        return r;
    }

    /**
     * Sentencepiece style (Llama 2): {@code <unk>} 0, {@code <s>} 1, {@code </s>} 2, {@code <0x00>..<0xFF>}
     * 3..258, '▁' 259, 'h' 260, 'e' 261, 'l' 262, 'o' 263, then merges 264.. in rank order.
     */
    static ObjectNode sentencePiece() {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("<unk>", 0);
        vocab.put("<s>", 1);
        vocab.put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), 3 + b);
        }
        int next = 259;
        for (String c : List.of("▁", "h", "e", "l", "o")) {
            vocab.put(c, next++);
        }
        List<String> merges = List.of(
                "▁ h",        // rank 0 -> "▁h"     264
                "l l",        // rank 1 -> "ll"     265
                "e ll",       // rank 2 -> "ell"    266
                "▁h ell",     // rank 3 -> "▁hell"  267
                "▁hell o",    // rank 4 -> "▁hello" 268
                "e l");       // rank 5 -> "el"     269
        for (String m : merges) {
            vocab.put(m.replace(" ", ""), next++);
        }
        ObjectNode model = bpe(vocab, merges, true);
        model.put("unk_token", "<unk>");
        ObjectNode r = root(model);
        ArrayNode added = (ArrayNode) r.get("added_tokens");
        added.add(added(0, "<unk>", true));
        added.add(added(1, "<s>", true));
        added.add(added(2, "</s>", true));
        ObjectNode normalizer = typed("Sequence");
        normalizer.putArray("normalizers")
                .add(typed("Prepend").put("prepend", "▁"))
                .add(replace(" ", "▁"));
        r.set("normalizer", normalizer);
        ObjectNode post = typed("TemplateProcessing");
        post.putArray("single")
                .add(F.objectNode().set("SpecialToken", F.objectNode().put("id", "<s>").put("type_id", 0)))
                .add(F.objectNode().set("Sequence", F.objectNode().put("id", "A").put("type_id", 0)));
        post.putArray("pair");
        ObjectNode s = post.putObject("special_tokens").putObject("<s>");
        s.put("id", "<s>");
        s.putArray("ids").add(1);
        s.putArray("tokens").add("<s>");
        r.set("post_processor", post);
        ObjectNode decoder = typed("Sequence");
        decoder.putArray("decoders")
                .add(replace("▁", " "))
                .add(typed("ByteFallback"))
                .add(typed("Fuse"))
                .add(typed("Strip").put("content", " ").put("start", 1).put("stop", 0));
        r.set("decoder", decoder);
        return r;
    }

    /**
     * WordLevel with BERT's specials: {@code [UNK]} 0, {@code [CLS]} 1, {@code [SEP]} 2, then the words in
     * {@link #WORDS} from id 3; NFD, lowercase and accents stripped, the Whitespace pre-tokenizer,
     * BertProcessing, and no decoder (tokens joined with spaces).
     */
    static ObjectNode wordLevel() {
        ObjectNode model = F.objectNode();
        model.put("type", "WordLevel");
        ObjectNode v = model.putObject("vocab");
        v.put("[UNK]", 0).put("[CLS]", 1).put("[SEP]", 2);
        for (int i = 0; i < WORDS.size(); i++) {
            v.put(WORDS.get(i), 3 + i);
        }
        model.put("unk_token", "[UNK]");
        ObjectNode r = root(model);
        ArrayNode added = (ArrayNode) r.get("added_tokens");
        added.add(added(0, "[UNK]", true));
        added.add(added(1, "[CLS]", true));
        added.add(added(2, "[SEP]", true));
        ObjectNode normalizer = typed("Sequence");
        normalizer.putArray("normalizers").add(typed("NFD")).add(typed("Lowercase")).add(typed("StripAccents"));
        r.set("normalizer", normalizer);
        r.set("pre_tokenizer", typed("Whitespace"));
        ObjectNode post = typed("BertProcessing");
        post.putArray("sep").add("[SEP]").add(2);
        post.putArray("cls").add("[CLS]").add(1);
        r.set("post_processor", post);
        return r;
    }

    /** The words of {@link #wordLevel()}, ids 3 onwards. */
    static final List<String> WORDS = List.of("hello", "world", ",", "!", "cafe", "the", "a", "is", "it", "'", "s", "don",
            "t", "?", ".", "new", "york", "42");

    /**
     * {@link #byteLevel()} with RoBERTa's {@code <s>} 265 and {@code </s>} 266 around sequences
     * (RobertaProcessing), as RoBERTa's tokenizer.json has them.
     */
    static ObjectNode roberta() {
        ObjectNode r = byteLevel();
        ArrayNode added = (ArrayNode) r.get("added_tokens");
        added.add(added(265, "<s>", true));
        added.add(added(266, "</s>", true));
        ObjectNode post = typed("RobertaProcessing");
        post.putArray("sep").add("</s>").add(266);
        post.putArray("cls").add("<s>").add(265);
        post.put("trim_offsets", true).put("add_prefix_space", false);
        r.set("post_processor", post);
        return r;
    }

    static ObjectNode replace(String pattern, String content) {
        ObjectNode r = typed("Replace");
        r.putObject("pattern").put("String", pattern);
        r.put("content", content);
        return r;
    }

    static Path write(Path dir, String name, ObjectNode json) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, Json.MAPPER.writeValueAsString(json));
        return p;
    }
}
