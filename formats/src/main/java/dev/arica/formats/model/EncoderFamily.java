package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import java.util.Set;

/**
 * BERT ({@code BertModel}, {@code BertForMaskedLM}; transformers' modeling_bert.py) and RoBERTa ({@code RobertaModel},
 * {@code RobertaForMaskedLM}; modeling_roberta.py): bidirectional encoders with summed word, position and token-type
 * embeddings and a LayerNorm, post-LN blocks with biases and exact (erf) GELU, and a masked-LM head (dense, GELU,
 * LayerNorm, decoder tied to the word embeddings plus a bias) when the checkpoint has one. RoBERTa numbers its positions
 * from padding_idx + 1 over the non-padding tokens. Names come with the {@code bert.}/{@code roberta.} prefix of the
 * *For* classes or without it (a bare {@code BertModel}, as sentence-transformers saves it); BERT's LayerNorms are
 * {@code gamma}/{@code beta} in the original files and {@code weight}/{@code bias} in newer ones. The pooler and the
 * next-sentence head are not used and not in the table.
 */
public final class EncoderFamily implements Family<EncoderConfig> {
    public static final EncoderFamily BERT = new EncoderFamily("bert", Set.of("BertModel", "BertForMaskedLM"), false);
    public static final EncoderFamily ROBERTA = new EncoderFamily("roberta", Set.of("RobertaModel", "RobertaForMaskedLM"), true);

    private final String id;
    private final Set<String> architectures;
    private final boolean paddingPositions;

    private EncoderFamily(String id, Set<String> architectures, boolean paddingPositions) {
        this.id = id;
        this.architectures = architectures;
        this.paddingPositions = paddingPositions;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Set<String> architectures() {
        return architectures;
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of(id);
    }

    @Override
    public EncoderConfig config(ConfigFields f, TokenIds ids) throws FormatException {
        String positions = f.text("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw f.error("position_embedding_type '" + positions + "' is not supported (absolute)");
        }
        if (f.bool("is_decoder", false) || f.bool("add_cross_attention", false)) {
            throw f.error("is_decoder/add_cross_attention is true; arica exports " + id + " as an encoder");
        }
        String act = f.text("hidden_act", "gelu");
        DecoderConfig.Activation activation = switch (act) {
            case "gelu" -> DecoderConfig.Activation.GELU_EXACT;
            case "gelu_new", "gelu_pytorch_tanh" -> DecoderConfig.Activation.GELU_TANH;
            default -> throw f.error("hidden_act '" + act + "' is not supported (gelu, gelu_new)");
        };
        int hidden = f.positive("hidden_size");
        int heads = f.positive("num_attention_heads");
        if (hidden % heads != 0) {
            throw f.error("hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        int vocab = f.positive("vocab_size");
        int pad = f.tokenIdOr(-1, "pad_token_id", vocab);
        if (paddingPositions && pad < 0) {
            throw f.error("pad_token_id is missing; " + id + " numbers its positions from it");
        }
        int maxPositions = f.positive("max_position_embeddings");
        return new EncoderConfig(id, vocab, hidden, f.positive("intermediate_size"), f.layers("num_hidden_layers"), heads,
                paddingPositions ? maxPositions - pad - 1 : maxPositions, f.positiveOr(2, "type_vocab_size"),
                f.positiveNumberOr(1e-12, "layer_norm_eps"), activation, paddingPositions ? pad : null, pad < 0 ? null : pad);
    }

    @Override
    public TensorTable tensors(EncoderConfig c, Set<String> names) {
        String p = names.contains(id + ".embeddings.word_embeddings.weight") ? id + "." : "";
        String[] ln = names.contains(p + "embeddings.LayerNorm.gamma") ? new String[] {"gamma", "beta"}
                : new String[] {"weight", "bias"};
        long h = c.hidden();
        long positions = c.paddingPositions() == null ? c.maxPositions() : c.maxPositions() + c.paddingPositions() + 1;
        TensorTable.Builder t = new TensorTable.Builder();
        t.add(p + "embeddings.word_embeddings.weight", Role.EMBEDDING, -1, c.vocab(), h);
        t.add(p + "embeddings.position_embeddings.weight", Role.POSITION_EMBEDDING, -1, positions, h);
        t.add(p + "embeddings.token_type_embeddings.weight", Role.TOKEN_TYPE_EMBEDDING, -1, c.typeVocab(), h);
        t.add(p + "embeddings.LayerNorm." + ln[0], Role.EMBEDDING_NORM, -1, h);
        t.add(p + "embeddings.LayerNorm." + ln[1], Role.EMBEDDING_NORM_BIAS, -1, h);
        for (int i = 0; i < c.layers(); i++) {
            String l = p + "encoder.layer." + i + ".";
            t.add(l + "attention.self.query.weight", Role.QUERY, i, h, h);
            t.add(l + "attention.self.query.bias", Role.QUERY_BIAS, i, h);
            t.add(l + "attention.self.key.weight", Role.KEY, i, h, h);
            t.add(l + "attention.self.key.bias", Role.KEY_BIAS, i, h);
            t.add(l + "attention.self.value.weight", Role.VALUE, i, h, h);
            t.add(l + "attention.self.value.bias", Role.VALUE_BIAS, i, h);
            t.add(l + "attention.output.dense.weight", Role.ATTENTION_OUTPUT, i, h, h);
            t.add(l + "attention.output.dense.bias", Role.ATTENTION_OUTPUT_BIAS, i, h);
            t.add(l + "attention.output.LayerNorm." + ln[0], Role.ATTENTION_RESIDUAL_NORM, i, h);
            t.add(l + "attention.output.LayerNorm." + ln[1], Role.ATTENTION_RESIDUAL_NORM_BIAS, i, h);
            t.add(l + "intermediate.dense.weight", Role.UP, i, c.intermediate(), h);
            t.add(l + "intermediate.dense.bias", Role.UP_BIAS, i, c.intermediate());
            t.add(l + "output.dense.weight", Role.DOWN, i, h, c.intermediate());
            t.add(l + "output.dense.bias", Role.DOWN_BIAS, i, h);
            t.add(l + "output.LayerNorm." + ln[0], Role.MLP_RESIDUAL_NORM, i, h);
            t.add(l + "output.LayerNorm." + ln[1], Role.MLP_RESIDUAL_NORM_BIAS, i, h);
        }
        // The masked-LM head, when the checkpoint has one: BERT's cls.predictions, RoBERTa's lm_head.
        String head = id.equals("roberta") ? "lm_head." : "cls.predictions.";
        if (names.contains(head + "bias")) {
            String transform = id.equals("roberta") ? head : head + "transform.";
            String norm = id.equals("roberta") ? head + "layer_norm." : transform + "LayerNorm.";
            String[] hn = names.contains(norm + "gamma") ? new String[] {"gamma", "beta"} : new String[] {"weight", "bias"};
            t.add(transform + "dense.weight", Role.HEAD_TRANSFORM, -1, h, h);
            t.add(transform + "dense.bias", Role.HEAD_TRANSFORM_BIAS, -1, h);
            t.add(norm + hn[0], Role.HEAD_NORM, -1, h);
            t.add(norm + hn[1], Role.HEAD_NORM_BIAS, -1, h);
            if (names.contains(head + "decoder.weight")) {
                t.add(head + "decoder.weight", Role.HEAD, -1, c.vocab(), h);
            }
            t.add(head + "bias", Role.HEAD_BIAS, -1, c.vocab());
        }
        return t.build();
    }
}
