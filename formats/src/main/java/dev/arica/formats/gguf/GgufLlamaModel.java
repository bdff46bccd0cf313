package dev.arica.formats.gguf;

import dev.arica.formats.FormatException;
import dev.arica.formats.llama2c.RotaryPermutation;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.LlamaFamily;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a described Llama or Mistral model becomes in GGUF's {@code llama} architecture, as llama.cpp's
 * convert_hf_to_gguf.py writes it: the hyper-parameter metadata, and the description's tensors under their GGUF
 * names in its order, the query and key rows reordered per head from Hugging Face's rotary layout to GGML's pair
 * order. Mistral's sliding window is not carried: the {@code llama} architecture has none (llama.cpp's converter
 * drops it too).
 */
public final class GgufLlamaModel {

    /**
     * A tensor of the file: its GGUF name, the description's tensor it holds, and for query and key projections the
     * source row of each GGUF row ({@code rowOrder[ggufRow] = sourceRow}); null when rows stay in order.
     */
    public record Mapped(String name, TensorSpec spec, int[] rowOrder) {}

    private final DecoderConfig config;
    private final List<Mapped> tensors;

    private GgufLlamaModel(DecoderConfig config, List<Mapped> tensors) {
        this.config = config;
        this.tensors = List.copyOf(tensors);
    }

    /** The model of {@code d}, read from {@code source}; anything but a Llama or Mistral model is refused. */
    public static GgufLlamaModel of(ModelDescription d, Path source) throws FormatException {
        if (d.family() != LlamaFamily.LLAMA && d.family() != LlamaFamily.MISTRAL) {
            throw new FormatException(source, "is a " + d.family().id() + " model; GGUF export writes llama and "
                    + "mistral models");
        }
        DecoderConfig c = d.decoder();
        List<Mapped> out = new ArrayList<>();
        for (TensorSpec t : d.tensors().specs()) {
            String name = GgufTensorNames.ggufName(t.name()).orElseThrow(() -> new IllegalStateException(
                    "no GGUF name for the llama tensor " + t.name()));
            int[] order = switch (t.role()) {
                case QUERY -> RotaryPermutation.llama2cFromHf(c.heads(), c.headDim());
                case KEY -> RotaryPermutation.llama2cFromHf(c.kvHeads(), c.headDim());
                default -> null;
            };
            out.add(new Mapped(name, t, order));
        }
        return new GgufLlamaModel(c, out);
    }

    public DecoderConfig config() {
        return config;
    }

    /** The tensors in the order they are written: the description's. */
    public List<Mapped> tensors() {
        return tensors;
    }

    /** Whether the output head is the token embedding (no {@code output.weight}; llama.cpp then reuses token_embd). */
    public boolean tied() {
        return tensors.stream().noneMatch(t -> t.spec().role() == Role.HEAD);
    }

    /** The architecture's metadata: general.architecture and the {@code llama.*} hyper-parameters. */
    public GgufKeyValues keyValues() {
        String arch = GgufTensorNames.LLAMA;
        GgufKeyValues kv = new GgufKeyValues().putString(GgufKeys.ARCHITECTURE, arch);
        kv.putUint32(GgufKeys.of(arch, GgufKeys.CONTEXT_LENGTH), config.maxPositions());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.EMBEDDING_LENGTH), config.hidden());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.BLOCK_COUNT), config.layers());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.FEED_FORWARD_LENGTH), config.intermediate());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.ROPE_DIMENSION_COUNT), config.headDim());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.HEAD_COUNT), config.heads());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.HEAD_COUNT_KV), config.kvHeads());
        kv.putFloat32(GgufKeys.of(arch, GgufKeys.RMS_EPSILON), (float) config.normEps());
        kv.putFloat32(GgufKeys.of(arch, GgufKeys.ROPE_FREQ_BASE), (float) config.ropeTheta());
        kv.putUint32(GgufKeys.of(arch, GgufKeys.VOCAB_SIZE), config.vocab());
        if ((long) config.heads() * config.headDim() != config.hidden()) {
            // llama.cpp derives the head width from embedding_length / head_count unless told.
            kv.putUint32(GgufKeys.of(arch, GgufKeys.KEY_LENGTH), config.headDim());
            kv.putUint32(GgufKeys.of(arch, GgufKeys.VALUE_LENGTH), config.headDim());
        }
        return kv;
    }
}
