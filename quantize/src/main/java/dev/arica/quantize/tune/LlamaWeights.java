package dev.arica.quantize.tune;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorTable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The float32 weights of a plain Llama decoder (RMSNorm, rotary attention with grouped keys and values, SiLU-gated
 * MLP, no biases), each matrix row-major [out, in] as Hugging Face stores it, named through the family's tensor table.
 * The matrices that {@link LlamaPass} differentiates are indexed: layer l's projections at {@code l * 7 + p.ordinal()},
 * then the head.
 */
public final class LlamaWeights {
    /** A layer's projections, in index order. */
    public enum Projection {
        QUERY(Role.QUERY), KEY(Role.KEY), VALUE(Role.VALUE), OUTPUT(Role.ATTENTION_OUTPUT), GATE(Role.GATE), UP(Role.UP),
        DOWN(Role.DOWN);

        final Role role;

        Projection(Role role) {
            this.role = role;
        }
    }

    static final int PER_LAYER = Projection.values().length;

    final DecoderConfig config;
    final float[] embedding;
    final float[] finalNorm;
    final float[][] attentionNorms;
    final float[][] mlpNorms;
    /** The projections by index, the head last (the embedding table itself when tied). */
    final float[][] matrices;
    private final List<String> names;
    private final String embeddingName;
    /** Each matrix as [in, out] for the forward products, made when first asked for. */
    private float[][] transposed;

    private LlamaWeights(DecoderConfig config, float[] embedding, float[] finalNorm, float[][] attentionNorms,
            float[][] mlpNorms, float[][] matrices, List<String> names, String embeddingName) {
        this.config = config;
        this.embedding = embedding;
        this.finalNorm = finalNorm;
        this.attentionNorms = attentionNorms;
        this.mlpNorms = mlpNorms;
        this.matrices = matrices;
        this.names = names;
        this.embeddingName = embeddingName;
    }

    /**
     * Why {@code c} is not a decoder this class computes, or null when it is: the Llama architecture exactly (Mistral's
     * sliding window, Gemma's norms and soft caps, GPT-2 and Falcon are other computations).
     */
    public static String unsupported(DecoderConfig c) {
        if (c.positions() != DecoderConfig.Positions.ROTARY || c.norm() != DecoderConfig.Norm.RMS
                || c.mlp() != DecoderConfig.Mlp.GATED || c.activation() != DecoderConfig.Activation.SILU || c.parallel()) {
            return "a " + c.family() + " decoder (only the Llama architecture: RMSNorm, rotary attention, SiLU-gated MLP)";
        }
        if (c.attentionSoftCap() != 0 || c.finalSoftCap() != 0 || c.embeddingScale() != 1
                || Math.abs(c.attentionScale() * Math.sqrt(c.headDim()) - 1) > 1e-9) {
            return "a " + c.family() + " decoder with soft caps or scaled embeddings or attention";
        }
        if (c.slidingLayers().contains(true)) {
            return "a " + c.family() + " decoder with sliding-window attention";
        }
        if (c.heads() % c.kvHeads() != 0 || c.headDim() % 2 != 0) {
            return "a decoder of " + c.heads() + " heads over " + c.kvHeads() + " key/value heads of width " + c.headDim();
        }
        return null;
    }

    /** Reads every weight of {@code in} as float32 (the config must be {@link #unsupported supported}). */
    public static LlamaWeights read(Checkpoint in, DecoderConfig c, TensorTable table) throws IOException {
        String why = unsupported(c);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        int layers = c.layers();
        float[][] attentionNorms = new float[layers][];
        float[][] mlpNorms = new float[layers][];
        float[][] matrices = new float[layers * PER_LAYER + 1][];
        List<String> names = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            attentionNorms[l] = floats(in, table.get(Role.ATTENTION_NORM, l).name());
            mlpNorms[l] = floats(in, table.get(Role.MLP_NORM, l).name());
            for (Projection p : Projection.values()) {
                String name = table.get(p.role, l).name();
                matrices[l * PER_LAYER + p.ordinal()] = floats(in, name);
                names.add(name);
            }
        }
        String embeddingName = table.get(Role.EMBEDDING).name();
        float[] embedding = floats(in, embeddingName);
        String headName = table.head().name();
        matrices[layers * PER_LAYER] = headName.equals(embeddingName) ? embedding : floats(in, headName);
        names.add(headName);
        LlamaWeights w = new LlamaWeights(c, embedding, floats(in, table.get(Role.FINAL_NORM).name()), attentionNorms,
                mlpNorms, matrices, List.copyOf(names), embeddingName);
        w.checkShapes();
        return w;
    }

    private void checkShapes() {
        DecoderConfig c = config;
        long d = c.hidden();
        long q = (long) c.heads() * c.headDim();
        long kv = (long) c.kvHeads() * c.headDim();
        long[] outs = {q, kv, kv, d, c.intermediate(), c.intermediate(), d};
        long[] ins = {d, d, d, q, d, d, c.intermediate()};
        for (int l = 0; l < c.layers(); l++) {
            check(attentionNorms[l].length, d, "attention norm of layer " + l);
            check(mlpNorms[l].length, d, "MLP norm of layer " + l);
            for (int p = 0; p < PER_LAYER; p++) {
                check(matrices[l * PER_LAYER + p].length, outs[p] * ins[p], names.get(l * PER_LAYER + p));
            }
        }
        check(embedding.length, (long) c.vocab() * d, "the embedding table");
        check(matrices[matrices.length - 1].length, (long) c.vocab() * d, names.getLast());
        check(finalNorm.length, d, "the final norm");
    }

    private static void check(long have, long want, String what) {
        if (have != want) {
            throw new IllegalArgumentException(what + " has " + have + " elements, the config gives " + want);
        }
    }

    private static float[] floats(Checkpoint in, String name) throws IOException {
        return FloatCast.floats(in.tensor(name));
    }

    /** Matrix {@code i} ([out, in], row-major), the array itself: not to be changed. */
    public float[] matrix(int i) {
        return matrices[i];
    }

    /** The names of the matrices by index. */
    public List<String> names() {
        return names;
    }

    /** Whether the head is the embedding table. */
    public boolean tied() {
        return matrices[matrices.length - 1] == embedding;
    }

    /** Index of the matrix named {@code name}, or -1. */
    public int indexOf(String name) {
        return names.indexOf(name);
    }

    public DecoderConfig config() {
        return config;
    }

    /** Each matrix transposed ([in, out]), for the forward products of every pass over these weights. */
    synchronized float[][] transposed() {
        if (transposed == null) {
            float[][] out = new float[matrices.length][];
            for (int i = 0; i < out.length; i++) {
                int rows = rows(i);
                int cols = columns(i);
                float[] m = matrices[i];
                float[] tr = new float[m.length];
                for (int r = 0; r < rows; r++) {
                    for (int j = 0; j < cols; j++) {
                        tr[j * rows + r] = m[r * cols + j];
                    }
                }
                out[i] = tr;
            }
            transposed = out;
        }
        return transposed;
    }

    /** Rows [out] of matrix {@code i}. */
    int rows(int i) {
        return matrices[i].length / columns(i);
    }

    /** Columns [in] of matrix {@code i}. */
    int columns(int i) {
        if (i == matrices.length - 1) {
            return config.hidden();
        }
        return switch (Projection.values()[i % PER_LAYER]) {
            case OUTPUT -> config.heads() * config.headDim();
            case DOWN -> config.intermediate();
            default -> config.hidden();
        };
    }

    /** These weights with another embedding table (and head, when tied to it). */
    public LlamaWeights withEmbedding(float[] table) {
        if (table.length != embedding.length) {
            throw new IllegalArgumentException(table.length + " embedding values for " + embedding.length);
        }
        float[][] m = matrices.clone();
        if (tied()) {
            m[m.length - 1] = table;
        }
        return new LlamaWeights(config, table, finalNorm, attentionNorms, mlpNorms, m, names, embeddingName);
    }

    /** The embedding table [vocab, hidden], the array itself: not to be changed. */
    public float[] embedding() {
        return embedding;
    }

    /** The name of the embedding table. */
    public String embeddingName() {
        return embeddingName;
    }

    /** These weights with the given matrices (null entries: kept). */
    LlamaWeights with(float[][] replaced) {
        float[][] m = matrices.clone();
        for (int i = 0; i < m.length; i++) {
            if (replaced[i] != null) {
                m[i] = replaced[i];
            }
        }
        return new LlamaWeights(config, embedding, finalNorm, attentionNorms, mlpNorms, m, names, embeddingName);
    }
}
