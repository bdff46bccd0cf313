package dev.arica.runtime.export;

/** Names of an exported encoder's inputs and outputs: those of Optimum's and sentence-transformers' ONNX encoders. */
public final class EncoderIo {
    /** [batch, seq] int64. */
    public static final String INPUT_IDS = DecoderIo.INPUT_IDS;
    /** [batch, seq] int64: 1 for tokens, 0 for padding (padding is never attended to). */
    public static final String ATTENTION_MASK = DecoderIo.ATTENTION_MASK;
    /** [batch, seq] int64: the segment of each token (BERT); absent when the model has one segment (RoBERTa). */
    public static final String TOKEN_TYPE_IDS = "token_type_ids";
    /** [batch, seq, hidden] float32: the encoder's output. */
    public static final String LAST_HIDDEN_STATE = "last_hidden_state";
    /** sentence-transformers' name for the same output. */
    public static final String TOKEN_EMBEDDINGS = "token_embeddings";
    /** [batch, seq, vocab] float32: the masked-LM head's scores, when the model has one. */
    public static final String LOGITS = DecoderIo.LOGITS;

    private EncoderIo() {}
}
