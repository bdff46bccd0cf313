package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.EncoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.RecurrentConfig;
import dev.arica.formats.model.Role;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What inspect says of a checkpoint's family: the description's key hyper-parameters, or why the checkpoint is not
 * one arica describes (an unsupported family, or tensors that do not fit the declared one). Never fails: inspect
 * shows any file.
 *
 * @param description the description, or null
 * @param problem why there is none (null when there is one, or when the checkpoint has no config.json)
 */
record FamilySummary(ModelDescription description, String problem) {

    static FamilySummary of(Checkpoint c) {
        if (c.config().isEmpty()) {
            return new FamilySummary(null, null);
        }
        try {
            return new FamilySummary(ModelDescription.of(c, ""), null);
        } catch (FormatException e) {
            return new FamilySummary(null, e.getMessage());
        } catch (IOException e) {
            return new FamilySummary(null, e.getMessage());
        }
    }

    /** The summary of an .arica file: its stored config.json and its tensors' logical shapes. */
    static FamilySummary of(AricaFile f) {
        if (f.config().isEmpty()) {
            return new FamilySummary(null, null);
        }
        Map<String, TensorInfo> stored = new LinkedHashMap<>();
        f.entries().forEach(e -> stored.put(e.name(), e.info()));
        try {
            return new FamilySummary(ModelDescription.of(f.path(), new ConfigFields(f.path(), f.config().get()), null, stored, ""),
                    null);
        } catch (FormatException e) {
            return new FamilySummary(null, e.getMessage());
        }
    }

    /** One line: "gemma2: hidden 72, 4 layers, 4 heads x 24 (2 kv heads), ...". */
    String line() {
        if (description == null) {
            return problem == null ? "(no config.json)" : "not described: " + problem;
        }
        if (description.config() instanceof RecurrentConfig r) {
            return description.family().id() + ": " + r.layers() + " GRU layers, hidden " + r.hidden() + ", embedding "
                    + r.embedding() + ", additive attention " + r.attentionDim() + ", vocab " + r.vocab() + ", context "
                    + r.maxPositions();
        }
        if (description.config() instanceof EncoderConfig e) {
            return description.family().id() + ": encoder, hidden " + e.hidden() + ", " + e.layers() + " layers, " + e.heads()
                    + " heads x " + e.headDim() + ", MLP " + e.intermediate() + " " + e.activation().name().toLowerCase(Locale.ROOT)
                    + ", vocab " + e.vocab() + ", context " + e.maxPositions() + (e.tokenTypes() ? ", " + e.typeVocab()
                    + " token types" : "") + (e.paddingPositions() != null ? ", positions from padding_idx + 1" : "")
                    + ", post-LN eps " + number(e.normEps()) + (description.tensors().find(Role.HEAD_BIAS, -1).isPresent()
                    ? ", masked-LM head" : ", no head");
        }
        DecoderConfig c = description.decoder();
        List<String> parts = new ArrayList<>();
        parts.add("hidden " + c.hidden());
        parts.add(c.layers() + " layers");
        parts.add(c.heads() + " heads x " + c.headDim() + (c.kvHeads() == c.heads() ? "" : " (" + c.kvHeads() + " kv heads)"));
        parts.add((c.mlp() == DecoderConfig.Mlp.GATED ? "gated MLP " : "MLP ") + c.intermediate() + " "
                + c.activation().name().toLowerCase(Locale.ROOT));
        parts.add("vocab " + c.vocab());
        parts.add("context " + c.maxPositions());
        parts.add(c.positions() == DecoderConfig.Positions.ROTARY
                ? String.format(Locale.ROOT, "rotary theta %s", number(c.ropeTheta())) : "learned positions");
        parts.add(c.norm().name().toLowerCase(Locale.ROOT).replace('_', ' ') + " norm eps " + number(c.normEps()));
        if (c.slidingWindow() > 0) {
            parts.add("sliding window " + c.slidingWindow() + " on " + (c.slidingLayers().contains(false)
                    ? "layers " + slidingLayers(c) : "every layer"));
        }
        if (c.attentionSoftCap() > 0 || c.finalSoftCap() > 0) {
            parts.add("soft-caps " + number(c.attentionSoftCap()) + " (attention), " + number(c.finalSoftCap()) + " (logits)");
        }
        if (c.parallel()) {
            parts.add("parallel attention and MLP");
        }
        parts.add(c.tied() ? "tied head" : "separate head");
        return description.family().id() + ": " + String.join(", ", parts);
    }

    /** The "family" object of inspect --json, or null; "family_problem" says why when there is none. */
    void putInto(ObjectNode report) {
        if (description == null) {
            report.putNull("family");
            if (problem == null) {
                report.putNull("family_problem");
            } else {
                report.put("family_problem", problem);
            }
            return;
        }
        ObjectNode f = report.putObject("family");
        f.put("id", description.family().id());
        if (description.config() instanceof RecurrentConfig r) {
            f.put("kind", "recurrent");
            f.put("hidden_size", r.hidden());
            f.put("embedding_dim", r.embedding());
            f.put("num_layers", r.layers());
            f.put("attention_dim", r.attentionDim());
            f.put("vocab_size", r.vocab());
            f.put("context_length", r.maxPositions());
            f.put("described_tensors", description.tensors().specs().size());
            report.putNull("family_problem");
            return;
        }
        if (description.config() instanceof EncoderConfig e) {
            f.put("kind", "encoder");
            f.put("hidden_size", e.hidden());
            f.put("intermediate_size", e.intermediate());
            f.put("num_layers", e.layers());
            f.put("num_attention_heads", e.heads());
            f.put("head_dim", e.headDim());
            f.put("vocab_size", e.vocab());
            f.put("context_length", e.maxPositions());
            f.put("type_vocab_size", e.typeVocab());
            f.put("activation", e.activation().name().toLowerCase(Locale.ROOT));
            f.put("masked_lm_head", description.tensors().find(Role.HEAD_BIAS, -1).isPresent());
            f.put("described_tensors", description.tensors().specs().size());
            report.putNull("family_problem");
            return;
        }
        DecoderConfig c = description.decoder();
        f.put("kind", "transformer");
        f.put("hidden_size", c.hidden());
        f.put("intermediate_size", c.intermediate());
        f.put("num_layers", c.layers());
        f.put("num_attention_heads", c.heads());
        f.put("num_kv_heads", c.kvHeads());
        f.put("head_dim", c.headDim());
        f.put("vocab_size", c.vocab());
        f.put("context_length", c.maxPositions());
        f.put("positions", c.positions().name().toLowerCase(Locale.ROOT));
        f.put("norm", c.norm().name().toLowerCase(Locale.ROOT));
        f.put("activation", c.activation().name().toLowerCase(Locale.ROOT));
        f.put("sliding_window", c.slidingWindow());
        f.put("attention_softcap", c.attentionSoftCap());
        f.put("final_softcap", c.finalSoftCap());
        f.put("parallel_attention", c.parallel());
        f.put("tied", c.tied());
        f.put("described_tensors", description.tensors().specs().size());
        report.putNull("family_problem");
    }

    private static String slidingLayers(DecoderConfig c) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            if (c.sliding(i)) {
                out.add(Integer.toString(i));
            }
        }
        return String.join(",", out);
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
