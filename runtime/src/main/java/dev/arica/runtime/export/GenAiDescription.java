package dev.arica.runtime.export;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.EncoderConfig;
import dev.arica.formats.model.ModelConfig;
import dev.arica.formats.model.RecurrentConfig;
import dev.arica.runtime.tokenizer.AricateWordTokenizer;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** {@code arica-genai.json}: the description of an export that a generator reads instead of inspecting the graph. */
final class GenAiDescription {
    /** Tokenizer files a generator looks for, most specific first. */
    private static final List<String> TOKENIZERS = List.of("tokenizer.json", "tokenizer.llama2c.bin", "tokenizer.model");

    private GenAiDescription() {}

    /** The description a generator reads instead of inspecting the graph. */
    static ObjectNode of(String family, ModelConfig c, OnnxExporter.Options options, DecoderGraph.Built graph,
            Collection<DecoderGraph.QuantizedWeight> quantized, List<String> files) {
        ObjectNode g = Json.MAPPER.createObjectNode();
        g.put("format", "arica-genai");
        g.put("format_version", OnnxExporter.GENAI_FORMAT_VERSION);
        g.put("model_type", family);
        g.put("model", OnnxExporter.MODEL_FILE);
        g.put("flavour", options.flavour().id);
        g.put("opset", graph.opsets().get(""));
        g.put("weight_dtype", options.weightType().name().toLowerCase(Locale.ROOT));
        if (quantized.isEmpty()) {
            g.putNull("quantization");
        } else {
            ObjectNode q = g.putObject("quantization");
            q.put("operator", options.portable() ? "DequantizeLinear" : "MatMulNBits");
            if (!options.portable()) {
                q.put("accuracy_level", options.accuracyLevel());
            }
            q.put("summary", quantizationSummary(quantized, graph, options));
            ObjectNode per = q.putObject("weights");
            quantized.forEach(w -> per.put(w.name(), w.describe()));
        }
        g.put("activation_dtype", "f32");
        g.put("num_layers", c.layers());
        g.put("hidden_size", c.hidden());
        if (c instanceof DecoderConfig d) {
            g.put("num_attention_heads", d.heads());
            g.put("num_kv_heads", d.kvHeads());
            g.put("head_dim", d.headDim());
        } else if (c instanceof RecurrentConfig r) {
            g.put("embedding_dim", r.embedding());
            g.put("attention_dim", r.attentionDim());
        }
        g.put("vocab_size", c.vocab());
        g.put("context_length", c.maxPositions());
        // The past/present state's type; the graph keeps it in float32 whatever the weights.
        g.put("dtype", "float32");
        if (c.bosTokenId() == null) {
            g.putNull("bos_token_id");
        } else {
            g.put("bos_token_id", c.bosTokenId());
        }
        ArrayNode eos = g.putArray("eos_token_ids");
        c.eosTokenIds().forEach(eos::add);
        switch (c) {
            case DecoderConfig d -> keyValueCache(g, d);
            case RecurrentConfig r -> recurrentState(g, r);
            case EncoderConfig e -> encoderIo(g, e, graph);
        }
        // Aricate's word vocabulary is its tokenizer; another family's vocab.json is half of a BPE tokenizer.
        List<String> candidates = c instanceof RecurrentConfig ? List.of(AricateWordTokenizer.VOCAB_FILE) : TOKENIZERS;
        String tokenizer = candidates.stream().filter(files::contains).findFirst().orElse(null);
        if (tokenizer == null) {
            g.putNull("tokenizer");
        } else {
            g.put("tokenizer", tokenizer);
        }
        ArrayNode f = g.putArray("files");
        files.forEach(f::add);
        return g;
    }

    /** The key/value cache's inputs and outputs (the ORT GenAI names) and its shape. */
    private static void keyValueCache(ObjectNode g, DecoderConfig c) {
        ObjectNode in = g.putObject("inputs");
        in.put("input_ids", DecoderIo.INPUT_IDS);
        in.put("attention_mask", DecoderIo.ATTENTION_MASK);
        in.put("position_ids", DecoderIo.POSITION_IDS);
        in.put("past_key", DecoderIo.template(DecoderIo.PAST_KEY));
        in.put("past_value", DecoderIo.template(DecoderIo.PAST_VALUE));
        ObjectNode outs = g.putObject("outputs");
        outs.put("logits", DecoderIo.LOGITS);
        outs.put("present_key", DecoderIo.template(DecoderIo.PRESENT_KEY));
        outs.put("present_value", DecoderIo.template(DecoderIo.PRESENT_VALUE));
        ObjectNode kv = g.putObject("kv_cache");
        kv.put("dtype", "float32");
        ArrayNode shape = kv.putArray("shape");
        shape.add(DecoderGraph.BATCH).add(c.kvHeads()).add(DecoderGraph.PAST).add(c.headDim());
    }

    /** An encoder's inputs and outputs; {@code kind} tells generators it is not theirs to run. */
    private static void encoderIo(ObjectNode g, EncoderConfig c, DecoderGraph.Built graph) {
        g.put("kind", "encoder");
        ObjectNode in = g.putObject("inputs");
        in.put("input_ids", EncoderIo.INPUT_IDS);
        in.put("attention_mask", EncoderIo.ATTENTION_MASK);
        if (c.tokenTypes()) {
            in.put("token_type_ids", EncoderIo.TOKEN_TYPE_IDS);
        } else {
            in.putNull("token_type_ids");
        }
        ObjectNode outs = g.putObject("outputs");
        outs.put("last_hidden_state", EncoderIo.LAST_HIDDEN_STATE);
        boolean logits = graph.graph().getOutputList().stream().anyMatch(o -> o.getName().equals(EncoderIo.LOGITS));
        if (logits) {
            outs.put("logits", EncoderIo.LOGITS);
        } else {
            outs.putNull("logits");
        }
        if (c.padTokenId() == null) {
            g.putNull("pad_token_id");
        } else {
            g.put("pad_token_id", c.padTokenId());
        }
    }

    /** A recurrent model's inputs (no mask, no positions) and its state: GRU hidden states, attention keys and outputs. */
    private static void recurrentState(ObjectNode g, RecurrentConfig c) {
        ObjectNode in = g.putObject("inputs");
        in.put("input_ids", DecoderIo.INPUT_IDS);
        in.putNull("attention_mask");
        in.putNull("position_ids");
        g.putObject("outputs").put("logits", DecoderIo.LOGITS);
        ArrayNode state = g.putArray("state");
        for (int k = 0; k < c.layers(); k++) {
            ObjectNode h = state.addObject().put("input", RecurrentIo.pastHidden(k)).put("output", RecurrentIo.presentHidden(k));
            h.putArray("shape").add(1).add(DecoderGraph.BATCH).add(c.hidden());
        }
        ObjectNode keys = state.addObject().put("input", RecurrentIo.PAST_KEYS).put("output", RecurrentIo.PRESENT_KEYS);
        keys.putArray("shape").add(DecoderGraph.BATCH).add(DecoderGraph.PAST).add(c.attentionDim());
        ObjectNode outputs = state.addObject().put("input", RecurrentIo.PAST_OUTPUTS).put("output", RecurrentIo.PRESENT_OUTPUTS);
        outputs.putArray("shape").add(DecoderGraph.BATCH).add(DecoderGraph.PAST).add(c.hidden());
    }

    /**
     * "q8_0 x 56 (MatMulNBits, accuracy_level 0)": the stored schemes and how the graph runs them; quantized weights
     * the graph reads as floats (an embedding table, GRU weights) are counted apart, as dequantized at export.
     */
    static String quantizationSummary(Collection<DecoderGraph.QuantizedWeight> weights, DecoderGraph.Built graph,
            OnnxExporter.Options options) {
        Set<String> run = new HashSet<>();
        graph.planes().forEach(p -> run.add(p.weight().name()));
        Map<String, Integer> schemes = new TreeMap<>();
        Map<String, Integer> dequantized = new TreeMap<>();
        weights.forEach(q -> (run.contains(q.name()) ? schemes : dequantized).merge(q.describe(), 1, Integer::sum));
        String ran = list(schemes);
        String how = options.portable() ? " (DequantizeLinear + MatMul)" : " (MatMulNBits, accuracy_level " + options.accuracyLevel() + ")";
        if (dequantized.isEmpty()) {
            return ran + how;
        }
        String floats = list(dequantized) + " dequantized to float at export";
        return schemes.isEmpty() ? floats : ran + how + "; " + floats;
    }

    private static String list(Map<String, Integer> schemes) {
        StringBuilder b = new StringBuilder();
        schemes.forEach((k, v) -> b.append(b.isEmpty() ? "" : ", ").append(k).append(" x ").append(v));
        return b.toString();
    }
}
