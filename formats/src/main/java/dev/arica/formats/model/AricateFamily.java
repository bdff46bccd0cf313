package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Aricate ({@code AricateForCausalLM}, the model the .arica format is named after): a word embedding, a stack of GRU
 * layers with torch.nn.GRU's semantics (gate blocks reset, update, new; the reset gate multiplies W_hn h + b_hn), causal
 * additive attention over the top layer's outputs (score = energy . tanh(query o_t + key o_s)), and an output layer
 * on [o_t, c_t]. PyTorch module names; the GRU tensors keep its gate order, the ONNX export reorders them.
 */
public final class AricateFamily implements Family<RecurrentConfig> {
    public static final AricateFamily INSTANCE = new AricateFamily();

    private AricateFamily() {}

    @Override
    public String id() {
        return "aricate";
    }

    @Override
    public Set<String> architectures() {
        return Set.of("AricateForCausalLM");
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("aricate");
    }

    @Override
    public List<String> layerCountKeys() {
        return List.of("num_layers");
    }

    @Override
    public Optional<String> notUpscalable() {
        return Optional.of("is a recurrent aricate model: upscale copies transformer layers, and a GRU stack's first layer "
                + "reads the embedding, not the layer below, so its layers cannot be moved");
    }

    @Override
    public RecurrentConfig config(ConfigFields f, TokenIds ids) throws FormatException {
        if (f.bool("bidirectional", false)) {
            throw f.error("bidirectional is true; Aricate is a unidirectional GRU");
        }
        int vocab = f.positive("vocab_size");
        return new RecurrentConfig(id(), vocab, f.positive("embedding_dim"), f.positive("hidden_size"), f.layers("num_layers"),
                f.positive("attention_dim"), f.positiveOr(512, "max_position_embeddings"), optionalId(f, "pad_token_id", vocab),
                optionalId(f, "unk_token_id", vocab), optionalId(f, "sep_token_id", vocab), ids.bos(), ids.eos());
    }

    private static Integer optionalId(ConfigFields f, String key, int vocab) throws FormatException {
        int id = f.tokenIdOr(-1, key, vocab);
        return id < 0 ? null : id;
    }

    @Override
    public TensorTable tensors(RecurrentConfig c, Set<String> names) {
        long h = c.hidden(), gates = 3 * h;
        TensorTable.Builder t = new TensorTable.Builder();
        t.add("embedding.weight", Role.EMBEDDING, -1, c.vocab(), c.embedding());
        for (int k = 0; k < c.layers(); k++) {
            t.add("gru.weight_ih_l" + k, Role.RNN_INPUT, k, gates, c.gruInput(k));
            t.add("gru.weight_hh_l" + k, Role.RNN_HIDDEN, k, gates, h);
            t.add("gru.bias_ih_l" + k, Role.RNN_INPUT_BIAS, k, gates);
            t.add("gru.bias_hh_l" + k, Role.RNN_HIDDEN_BIAS, k, gates);
        }
        t.add("attention.query.weight", Role.QUERY, -1, c.attentionDim(), h);
        t.add("attention.key.weight", Role.KEY, -1, c.attentionDim(), h);
        t.add("attention.energy.weight", Role.ATTENTION_ENERGY, -1, 1, c.attentionDim());
        t.add("output.weight", Role.HEAD, -1, c.vocab(), 2 * h);
        t.add("output.bias", Role.HEAD_BIAS, -1, c.vocab());
        return t.build();
    }
}
