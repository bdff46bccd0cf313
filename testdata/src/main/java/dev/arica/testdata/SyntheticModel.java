package dev.arica.testdata;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.Families;
import dev.arica.formats.model.Family;
import dev.arica.formats.model.TensorSpec;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Deterministic synthetic checkpoints of any described family, written from a config.json alone: its family's
 * tensor table gives the names and shapes; projections and embeddings are N(0, std) from a generator seeded per
 * tensor, norms are 1 (Gemma's offsets 0, so that 1 + w is 1), biases 0. The same arguments give the same bytes.
 */
public final class SyntheticModel {
    private static final int CHUNK = 1 << 18;

    /** Family models of real shapes for benchmarks, with their layer count cut to fit a small machine. */
    public enum Preset {
        /** google/gemma-2-2b's shape (hidden 2304, 8 heads of 256, 4 kv heads, MLP 9216, vocab 256000), 2 layers. */
        GEMMA2_BENCH("""
                {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_size": 2304,
                 "intermediate_size": 9216, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 4,
                 "head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 8192, "query_pre_attn_scalar": 256,
                 "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "sliding_window": 4096,
                 "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "hidden_activation": "gelu_pytorch_tanh",
                 "bos_token_id": 2, "eos_token_id": [1, 107], "pad_token_id": 0, "torch_dtype": "float32"}
                """, 42);

        private final String config;
        private final long seed;

        Preset(String config, long seed) {
            this.config = config;
            this.seed = seed;
        }

        public ObjectNode config() {
            try {
                return (ObjectNode) Json.MAPPER.readTree(config);
            } catch (IOException e) {
                throw new IllegalStateException("preset " + this + " has a broken config", e);
            }
        }

        public long seed() {
            return seed;
        }

        /** The name the command line uses: "gemma2-bench". */
        public String id() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Preset parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    private SyntheticModel() {}

    /** The tensors of a model of this configuration, in its family's order, stored as {@code dtype}. */
    public static List<TensorInfo> tensors(ObjectNode config, DType dtype) throws FormatException {
        List<TensorInfo> out = new ArrayList<>();
        for (TensorSpec t : table(config)) {
            out.add(new TensorInfo(t.name(), dtype, t.shape()));
        }
        return out;
    }

    private static List<TensorSpec> table(ObjectNode config) throws FormatException {
        ConfigFields f = new ConfigFields(Path.of("config.json"), config);
        return Families.of(f, "synth").table(f, new Family.TokenIds(null, List.of()), Set.of()).specs();
    }

    /**
     * Writes the model as an HF directory at {@code dir} (sharded above {@code maxShardSize}) with config.json and
     * {@code aux}; the tensors are those of its family's table.
     */
    public static void write(Path dir, ObjectNode config, DType dtype, double std, long seed, List<AuxFile> aux,
            long maxShardSize, Progress progress) throws IOException {
        if (!(dtype == DType.F32 || dtype == DType.F16 || dtype == DType.BF16)) {
            throw new IllegalArgumentException("dtype must be F32, F16 or BF16");
        }
        List<TensorSpec> specs = table(config);
        boolean offsetNorms = new ConfigFields(Path.of("config.json"), config).text("model_type", "").equals("gemma2");
        List<TensorInfo> infos = tensors(config, dtype);
        long total = infos.stream().mapToLong(TensorInfo::byteSize).sum();
        progress.start("synthesize", total);
        try (HfCheckpointWriter w = HfCheckpointWriter.create(dir, infos, Map.of("format", "pt"), config, aux,
                maxShardSize, true);
                Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate((long) CHUNK * 4, 64);
            for (int i = 0; i < specs.size(); i++) {
                TensorSpec t = specs.get(i);
                w.begin(t.name());
                Float constant = switch (t.role().kind) {
                    case NORM -> offsetNorms ? 0f : 1f;
                    case BIAS -> 0f;
                    default -> null;
                };
                SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + i);
                long n = infos.get(i).elements();
                for (long e = 0; e < n; e += CHUNK) {
                    int m = (int) Math.min(CHUNK, n - e);
                    fill(buf, m, dtype, std, constant, rnd);
                    w.write(buf.asSlice(0, dtype.bytesFor(m)));
                    progress.advance(dtype.bytesFor(m));
                }
            }
            w.commit();
        } finally {
            progress.finish();
        }
    }

    private static void fill(MemorySegment buf, int m, DType dtype, double std, Float constant, SplittableRandom rnd) {
        for (int k = 0; k < m; k++) {
            float v = constant != null ? constant : (float) (gaussian(rnd) * std);
            switch (dtype) {
                case F32 -> buf.set(FloatCast.F32_LE, k * 4L, v);
                case F16 -> buf.set(FloatCast.I16_LE, k * 2L, Float.floatToFloat16(v));
                default -> buf.set(FloatCast.I16_LE, k * 2L, FloatCast.f32ToBf16(v));
            }
        }
    }

    /** A standard normal sample (Box-Muller on one uniform pair; the other sample is dropped for simplicity). */
    static double gaussian(SplittableRandom rnd) {
        double u1 = 1.0 - rnd.nextDouble();
        double u2 = rnd.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
