package dev.arica.formats.model;

/** What a tensor does in a model, independent of the family's names for it. */
public enum Role {
    EMBEDDING(Kind.EMBEDDING),
    /** Learned absolute positions (GPT-2's wpe). */
    POSITION_EMBEDDING(Kind.EMBEDDING),
    /** The norm before attention (Llama's input_layernorm, GPT-2's ln_1, Falcon's ln_attn). */
    ATTENTION_NORM(Kind.NORM),
    ATTENTION_NORM_BIAS(Kind.BIAS),
    QUERY(Kind.PROJECTION),
    KEY(Kind.PROJECTION),
    VALUE(Kind.PROJECTION),
    /** Query, key and value in one matrix (GPT-2's c_attn, Falcon's query_key_value). */
    QKV(Kind.PROJECTION),
    QKV_BIAS(Kind.BIAS),
    ATTENTION_OUTPUT(Kind.PROJECTION),
    ATTENTION_OUTPUT_BIAS(Kind.BIAS),
    /** A norm of the attention's output before the residual add (Gemma-2's post_attention_layernorm). */
    ATTENTION_OUTPUT_NORM(Kind.NORM),
    /** The norm before the MLP (Llama's post_attention_layernorm, Gemma-2's pre_feedforward_layernorm, GPT-2's ln_2). */
    MLP_NORM(Kind.NORM),
    MLP_NORM_BIAS(Kind.BIAS),
    GATE(Kind.PROJECTION),
    UP(Kind.PROJECTION),
    DOWN(Kind.PROJECTION),
    UP_BIAS(Kind.BIAS),
    DOWN_BIAS(Kind.BIAS),
    /** A norm of the MLP's output before the residual add (Gemma-2's post_feedforward_layernorm). */
    MLP_OUTPUT_NORM(Kind.NORM),
    FINAL_NORM(Kind.NORM),
    FINAL_NORM_BIAS(Kind.BIAS),
    /** The output projection to the vocabulary. */
    HEAD(Kind.HEAD),
    HEAD_BIAS(Kind.BIAS),
    /** A recurrent layer's input-to-hidden weights, the gates' blocks stacked (GRU: reset, update, new). */
    RNN_INPUT(Kind.PROJECTION),
    /** A recurrent layer's hidden-to-hidden weights, blocks as {@link #RNN_INPUT}. */
    RNN_HIDDEN(Kind.PROJECTION),
    RNN_INPUT_BIAS(Kind.BIAS),
    RNN_HIDDEN_BIAS(Kind.BIAS),
    /** Additive attention's energy vector v in v . tanh(q + k). */
    ATTENTION_ENERGY(Kind.VECTOR),
    /** BERT's segment embedding (token_type_ids). */
    TOKEN_TYPE_EMBEDDING(Kind.EMBEDDING),
    /** The LayerNorm of the summed embeddings (BERT, RoBERTa). */
    EMBEDDING_NORM(Kind.NORM),
    EMBEDDING_NORM_BIAS(Kind.BIAS),
    QUERY_BIAS(Kind.BIAS),
    KEY_BIAS(Kind.BIAS),
    VALUE_BIAS(Kind.BIAS),
    /** Post-LN: LayerNorm(x + attention(x)) (BERT's attention.output.LayerNorm). */
    ATTENTION_RESIDUAL_NORM(Kind.NORM),
    ATTENTION_RESIDUAL_NORM_BIAS(Kind.BIAS),
    /** Post-LN: LayerNorm(x + mlp(x)) (BERT's output.LayerNorm). */
    MLP_RESIDUAL_NORM(Kind.NORM),
    MLP_RESIDUAL_NORM_BIAS(Kind.BIAS),
    /** The masked-LM head's transform before the output projection: dense, activation, LayerNorm. */
    HEAD_TRANSFORM(Kind.PROJECTION),
    HEAD_TRANSFORM_BIAS(Kind.BIAS),
    HEAD_NORM(Kind.NORM),
    HEAD_NORM_BIAS(Kind.BIAS);

    /** What the role is, for the choices made by kind (what to quantize, what is a layer weight). */
    public enum Kind {
        EMBEDDING,
        PROJECTION,
        NORM,
        BIAS,
        HEAD,
        /** A learned vector used whole (a [1, n] row, not a projection worth quantizing). */
        VECTOR
    }

    public final Kind kind;

    Role(Kind kind) {
        this.kind = kind;
    }
}
