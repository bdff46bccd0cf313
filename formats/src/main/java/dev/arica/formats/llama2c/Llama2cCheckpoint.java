package dev.arica.formats.llama2c;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.MappedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorIndex;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A llama2.c ("version 0") checkpoint presented as a Hugging Face Llama checkpoint: tensors carry HF names,
 * q_proj and k_proj rows are reordered to HF's rotary layout (as views of the mapped rows, not copies),
 * and a config.json is derived from the header. The tokenizer, when found, travels as
 * {@value #TOKENIZER_NAME}.
 */
public final class Llama2cCheckpoint extends MappedCheckpoint {

    /** Name of the llama2.c tokenizer inside converted HF directories (kept byte for byte). */
    public static final String TOKENIZER_NAME = "tokenizer.llama2c.bin";
    static final int HEADER_BYTES = 28;

    /** The seven header fields. {@code sharedClassifier} is the sign of the stored vocab_size. */
    public record Header(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocab, int seqLen,
            boolean sharedClassifier) {
        public int headSize() {
            return dim / heads;
        }

        public int kvDim() {
            return dim / heads * kvHeads;
        }

        /** Bytes the file must have: header, weights, the two legacy rotary tables, the classifier if separate. */
        public long expectedFileSize() {
            // Exact arithmetic: a hostile header must not wrap around to the size of a small file.
            long l = layers;
            long[] terms = {
                (long) vocab * dim,
                l * dim,
                Math.multiplyExact(l * dim, (long) dim),
                Math.multiplyExact(2 * l * kvDim(), (long) dim), // 2 * l * kvDim < 2^63
                Math.multiplyExact(l * dim, (long) dim),
                l * dim,
                Math.multiplyExact(Math.multiplyExact(3 * l, (long) hiddenDim), (long) dim),
                dim,
                (long) seqLen * headSize(),
                sharedClassifier ? 0 : (long) vocab * dim};
            long floats = 0;
            for (long t : terms) {
                floats = Math.addExact(floats, t);
            }
            return Math.addExact(HEADER_BYTES, Math.multiplyExact(4, floats));
        }
    }

    private final Header header;
    private final ObjectNode config;
    private final List<AuxFile> aux;

    private Llama2cCheckpoint(Arena arena, TensorIndex index, Header header, ObjectNode config, List<AuxFile> aux) {
        super(arena, index);
        this.header = header;
        this.config = config;
        this.aux = aux;
    }

    /** True when the file's size matches the size its llama2.c header implies. */
    public static boolean looksLikeLlama2c(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return readHeader(path, ch) != null;
        } catch (FormatException e) {
            return false;
        }
    }

    /**
     * @param tokenizer the tokenizer file, or null to look beside the checkpoint for {@code tokenizer.bin}
     *     or {@code tok<vocab>.bin}
     */
    public static Llama2cCheckpoint open(Path path, Path tokenizer) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            Header h = readHeader(path, ch);
            if (h == null) {
                throw new FormatException(path, "file is too short for the 28-byte llama2.c header");
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            TensorIndex tensors = layout(path, h, all);
            List<AuxFile> aux = new ArrayList<>();
            Path tok = tokenizer != null ? tokenizer : findTokenizer(path, h.vocab());
            if (tok != null) {
                Llama2cTokenizer.read(tok, h.vocab());
                aux.add(AuxFile.copyOf(TOKENIZER_NAME, tok));
            }
            aux.add(AuxFile.of("generation_config.json", generationConfig().getBytes(StandardCharsets.UTF_8)));
            return new Llama2cCheckpoint(arena, tensors, h, config(h), Collections.unmodifiableList(aux));
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static Path findTokenizer(Path model, int vocab) {
        Path dir = model.toAbsolutePath().getParent();
        for (String name : List.of("tokenizer.bin", "tok" + vocab + ".bin", TOKENIZER_NAME)) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** The header, or null when the file is shorter than it; throws when the fields are inconsistent. */
    static Header readHeader(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < HEADER_BYTES) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, b.position()) < 0) {
                return null;
            }
        }
        b.flip();
        int dim = b.getInt(), hidden = b.getInt(), layers = b.getInt(), heads = b.getInt(), kvHeads = b.getInt();
        int vocab = b.getInt(), seqLen = b.getInt();
        String fields = "dim=" + dim + " hidden_dim=" + hidden + " n_layers=" + layers + " n_heads=" + heads
                + " n_kv_heads=" + kvHeads + " vocab_size=" + vocab + " seq_len=" + seqLen;
        if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab == 0
                || vocab == Integer.MIN_VALUE || seqLen <= 0) {
            throw new FormatException(path, "llama2.c header has a non-positive field: " + fields);
        }
        if (dim % heads != 0 || heads % kvHeads != 0 || (dim / heads) % 2 != 0) {
            throw new FormatException(path, "llama2.c header is inconsistent (dim must be a multiple of n_heads, "
                    + "n_heads of n_kv_heads, head size even): " + fields);
        }
        Header h = new Header(dim, hidden, layers, heads, kvHeads, Math.abs(vocab), seqLen, vocab > 0);
        long expected;
        try {
            expected = h.expectedFileSize();
        } catch (ArithmeticException e) {
            throw new FormatException(path, "file is " + size + " bytes but its llama2.c header (" + fields
                    + ") implies more than " + Long.MAX_VALUE);
        }
        if (expected != size) {
            throw new FormatException(path, "file is " + size + " bytes but its llama2.c header (" + fields
                    + ") implies " + expected);
        }
        return h;
    }

    /** The tensors as views of the mapping, in HF's names; none has a file range (q_proj and k_proj are permuted). */
    private static TensorIndex layout(Path path, Header h, MemorySegment all) {
        long dim = h.dim(), hid = h.hiddenDim(), kv = h.kvDim(), vocab = h.vocab();
        int layers = h.layers();
        long[] cursor = {HEADER_BYTES};
        java.util.function.LongFunction<MemorySegment> take = floats -> {
            MemorySegment s = all.asSlice(cursor[0], floats * 4);
            cursor[0] += floats * 4;
            return s;
        };
        MemorySegment embed = take.apply(vocab * dim);
        MemorySegment rmsAtt = take.apply(layers * dim);
        MemorySegment wq = take.apply(layers * dim * dim);
        MemorySegment wk = take.apply(layers * kv * dim);
        MemorySegment wv = take.apply(layers * kv * dim);
        MemorySegment wo = take.apply(layers * dim * dim);
        MemorySegment rmsFfn = take.apply(layers * dim);
        MemorySegment w1 = take.apply(layers * hid * dim);
        MemorySegment w2 = take.apply(layers * dim * hid);
        MemorySegment w3 = take.apply(layers * hid * dim);
        MemorySegment rmsFinal = take.apply(dim);
        take.apply((long) h.seqLen() * h.headSize()); // legacy freq_cis_real, unused
        MemorySegment wcls = h.sharedClassifier() ? null : take.apply(vocab * dim);

        TensorIndex.Builder t = TensorIndex.builder(path);
        put(t, "model.embed_tokens.weight", embed, vocab, dim);
        int[] qMap = RotaryPermutation.hfFromLlama2c(h.heads(), h.headSize());
        int[] kMap = RotaryPermutation.hfFromLlama2c(h.kvHeads(), h.headSize());
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            put(t, p + "input_layernorm.weight", layer(rmsAtt, i, dim), dim);
            t.add(permuted(p + "self_attn.q_proj.weight", layer(wq, i, dim * dim), qMap, dim));
            t.add(permuted(p + "self_attn.k_proj.weight", layer(wk, i, kv * dim), kMap, dim));
            put(t, p + "self_attn.v_proj.weight", layer(wv, i, kv * dim), kv, dim);
            put(t, p + "self_attn.o_proj.weight", layer(wo, i, dim * dim), dim, dim);
            put(t, p + "post_attention_layernorm.weight", layer(rmsFfn, i, dim), dim);
            put(t, p + "mlp.gate_proj.weight", layer(w1, i, hid * dim), hid, dim);
            put(t, p + "mlp.up_proj.weight", layer(w3, i, hid * dim), hid, dim);
            put(t, p + "mlp.down_proj.weight", layer(w2, i, dim * hid), dim, hid);
        }
        put(t, "model.norm.weight", rmsFinal, dim);
        if (wcls != null) {
            put(t, "lm_head.weight", wcls, vocab, dim);
        }
        return t.build();
    }

    private static MemorySegment layer(MemorySegment stacked, int i, long floatsPerLayer) {
        return stacked.asSlice(i * floatsPerLayer * 4, floatsPerLayer * 4);
    }

    private static void put(TensorIndex.Builder t, String name, MemorySegment data, long... shape) {
        t.add(Tensor.of(new TensorInfo(name, DType.F32, shape), data));
    }

    private static Tensor permuted(String name, MemorySegment w, int[] rowMap, long cols) {
        List<MemorySegment> rows = new ArrayList<>(rowMap.length);
        long rowBytes = cols * 4;
        for (int src : rowMap) {
            rows.add(w.asSlice(src * rowBytes, rowBytes));
        }
        return new Tensor(new TensorInfo(name, DType.F32, new long[] {rowMap.length, cols}), rows);
    }

    private static ObjectNode config(Header h) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", h.dim());
        c.put("intermediate_size", h.hiddenDim());
        c.put("num_hidden_layers", h.layers());
        c.put("num_attention_heads", h.heads());
        c.put("num_key_value_heads", h.kvHeads());
        c.put("head_dim", h.headSize());
        c.put("vocab_size", h.vocab());
        c.put("max_position_embeddings", h.seqLen());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("hidden_act", "silu");
        c.put("tie_word_embeddings", h.sharedClassifier());
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("torch_dtype", "float32");
        return c;
    }

    /** Models of this format end a story with BOS (id 1), so both 1 and 2 stop generation. */
    private static String generationConfig() {
        ObjectNode g = Json.MAPPER.createObjectNode();
        g.put("bos_token_id", 1);
        g.putArray("eos_token_id").add(2).add(1);
        return g.toString() + "\n";
    }

    public Header header() {
        return header;
    }

    @Override
    public String format() {
        return "llama2c";
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of("format", "pt");
    }

    @Override
    public Optional<ObjectNode> config() {
        return Optional.of(config.deepCopy());
    }

    @Override
    public List<AuxFile> auxFiles() {
        return aux;
    }
}
