package dev.arica.testdata;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Deterministic Llama-family checkpoints in HF layout: projection weights drawn from N(0, std) with a
 * generator seeded per tensor (so any tensor can be regenerated alone), norm weights 1.0. The same spec
 * and seed always give the same bytes.
 */
public final class SyntheticLlama {

    /**
     * The shape and contents of a synthetic model.
     *
     * @param tied whether lm_head shares the token embedding (then no lm_head tensor is written)
     */
    public record Spec(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab,
            int maxPositions, boolean tied, DType dtype, double std, long seed) {

        public Spec {
            if (hidden <= 0 || intermediate <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0) {
                throw new IllegalArgumentException("dimensions must be positive");
            }
            if (hidden % heads != 0 || heads % kvHeads != 0 || (hidden / heads) % 2 != 0) {
                throw new IllegalArgumentException("hidden must split into heads of even size, heads into kv heads");
            }
            if (!(dtype == DType.F32 || dtype == DType.F16 || dtype == DType.BF16)) {
                throw new IllegalArgumentException("dtype must be F32, F16 or BF16");
            }
        }

        public int headDim() {
            return hidden / heads;
        }

        public Spec withLayers(int n) {
            return new Spec(hidden, intermediate, n, heads, kvHeads, vocab, maxPositions, tied, dtype, std, seed);
        }

        public Spec withDtype(DType t) {
            return new Spec(hidden, intermediate, layers, heads, kvHeads, vocab, maxPositions, tied, t, std, seed);
        }

        public Spec withSeed(long s) {
            return new Spec(hidden, intermediate, layers, heads, kvHeads, vocab, maxPositions, tied, dtype, std, s);
        }

        public Spec withTied(boolean t) {
            return new Spec(hidden, intermediate, layers, heads, kvHeads, vocab, maxPositions, t, dtype, std, seed);
        }
    }

    /** Named specs used by tests, the README's demo and the benchmarks. */
    public enum Preset {
        /** 2 layers, multi-head attention, tied embeddings: about 50 k parameters. */
        TINY(new Spec(64, 176, 2, 4, 4, 256, 256, true, DType.F32, 0.02, 1)),
        /** Grouped-query attention (2 query heads per kv head), untied lm_head. */
        TINY_GQA(new Spec(64, 176, 2, 8, 4, 256, 256, false, DType.F32, 0.02, 2)),
        /** Untied lm_head, multi-head attention. */
        TINY_UNTIED(new Spec(64, 176, 2, 4, 4, 256, 256, false, DType.F32, 0.02, 3)),
        /** The benchmark model of the issues: about 2.2 GB in f32. */
        BENCH(new Spec(2048, 5632, 8, 16, 16, 32000, 2048, false, DType.F32, 0.02, 42)),
        /** The benchmark shape with 32 layers: about 7.5 GB in f32 (upscale benchmark). */
        BENCH32(new Spec(2048, 5632, 32, 16, 16, 32000, 2048, false, DType.F32, 0.02, 43));

        private final Spec spec;

        Preset(Spec spec) {
            this.spec = spec;
        }

        public Spec spec() {
            return spec;
        }

        public static Preset parse(String s) {
            return valueOf(s.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        }
    }

    private SyntheticLlama() {}

    /** The tensors of a model of this spec, in HF order: those Llama's description lists. */
    public static List<TensorInfo> tensors(Spec s) {
        try {
            return SyntheticModel.tensors(config(s), s.dtype());
        } catch (FormatException e) {
            throw new IllegalStateException("the synthetic Llama's own config is refused: " + e.getMessage(), e);
        }
    }

    /** The HF config.json of a model of this spec. */
    public static ObjectNode config(Spec s) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("head_dim", s.headDim());
        c.put("vocab_size", s.vocab());
        c.put("max_position_embeddings", s.maxPositions());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("hidden_act", "silu");
        c.put("tie_word_embeddings", s.tied());
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("torch_dtype", Converter.torchName(s.dtype()));
        return c;
    }

    /** Writes the model as an HF directory at {@code dir} (sharded above {@code maxShardSize}). */
    public static void write(Path dir, Spec s, long maxShardSize, Progress progress) throws IOException {
        ObjectNode gen = Json.MAPPER.createObjectNode();
        gen.put("bos_token_id", 1);
        gen.put("eos_token_id", 2);
        List<AuxFile> aux = List.of(AuxFile.of("generation_config.json",
                (gen.toString() + "\n").getBytes(StandardCharsets.UTF_8)));
        SyntheticModel.write(dir, config(s), s.dtype(), s.std(), s.seed(), aux, maxShardSize, progress);
    }
}
