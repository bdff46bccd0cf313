package dev.arica.formats.model;

/**
 * The row order of a fused query/key/value projection's outputs: {@code groups} blocks, each holding
 * {@code queries} query heads, then {@code keyValues} key heads, then as many value heads, every head
 * {@code headDim} wide. GPT-2's c_attn is one group of all q, all k, all v heads; Falcon-7B's multi-query
 * query_key_value one group of all q heads, one k and one v; Falcon-40B's grouped layout one group per kv head.
 * Query head h of the result is group h / queries, position h % queries: the kv head h / (heads / kv_heads) uses.
 */
public record QkvLayout(int groups, int queries, int keyValues, int headDim) {

    /** Output features of the fused projection. */
    public long width() {
        return (long) groups * (queries + 2L * keyValues) * headDim;
    }

    /** The fused projection's output row (feature) of query head {@code h}'s element {@code e}. */
    public long queryRow(int h, int e) {
        return ((long) (h / queries) * (queries + 2L * keyValues) + h % queries) * headDim + e;
    }

    /** The row of key head {@code k}'s element {@code e} ({@code k} counts over all groups). */
    public long keyRow(int k, int e) {
        return ((long) (k / keyValues) * (queries + 2L * keyValues) + queries + k % keyValues) * headDim + e;
    }

    /** The row of value head {@code k}'s element {@code e}. */
    public long valueRow(int k, int e) {
        return keyRow(k, e) + (long) keyValues * headDim;
    }
}
