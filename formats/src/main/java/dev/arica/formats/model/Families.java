package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/** The model families arica describes, and which one a config.json declares. */
public final class Families {
    private Families() {}

    /** Every supported family, in the order error messages list them. */
    public static final List<Family<?>> ALL = List.of(LlamaFamily.LLAMA, LlamaFamily.MISTRAL, Gemma2Family.INSTANCE,
            Gpt2Family.INSTANCE, FalconFamily.INSTANCE, AricateFamily.INSTANCE, EncoderFamily.BERT,
            EncoderFamily.ROBERTA);

    /** "llama, mistral, gemma2, gpt2, falcon". */
    public static String supported() {
        return ALL.stream().map(Family::id).collect(Collectors.joining(", "));
    }

    /** The family config.json declares by model_type, else by architectures; empty when it declares none. */
    public static Optional<Family<?>> declared(ConfigFields cfg) throws FormatException {
        String type = cfg.text("model_type", null);
        if (type != null) {
            return ALL.stream().filter(f -> f.modelTypes().contains(type)).findFirst();
        }
        List<String> archs = cfg.strings("architectures");
        return ALL.stream().filter(f -> archs.stream().anyMatch(f.architectures()::contains)).findFirst();
    }

    /** The declared family, or a one-line refusal naming what was declared and what is supported. */
    public static Family<?> of(ConfigFields cfg, String purpose) throws FormatException {
        Optional<Family<?>> f = declared(cfg);
        if (f.isPresent()) {
            return f.get();
        }
        String type = cfg.text("model_type", null);
        String what = type != null ? "model_type '" + type + "'" : "architectures " + cfg.json().path("architectures");
        throw cfg.error(what + " is not supported" + (purpose.isEmpty() ? "" : " by " + purpose) + " (supported: "
                + supported() + ")");
    }
}
