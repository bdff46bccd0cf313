package dev.arica.formats.gptq;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.Families;
import dev.arica.formats.model.Family;
import dev.arica.formats.model.Orientation;
import dev.arica.formats.model.TensorTable;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A Hugging Face directory quantized by GPTQ (AutoGPTQ, GPTQModel) seen as the float model it stands for: each
 * quantized layer's four stored tensors are replaced by its weight {@code <module>.weight} float32 [out, in], so that
 * a family's description recognizes the checkpoint, and {@link #tensor} dequantizes that weight exactly (one tensor at
 * a time, in memory); the stored planes stay reachable through {@link #weight} and {@link #planes}. config.json is
 * presented without its quantization_config, quantize_config.json is not a side file and the files' gptq_* metadata is
 * left out: what this checkpoint hands out (to convert, quantize, export) is the dequantized model. Every layer's shapes and g_idx are checked on open.
 */
public final class GptqCheckpoint implements Checkpoint {
    private final HfCheckpoint hf;
    private final GptqConfig gptq;
    private final Map<String, GptqWeight> weights;
    private final List<TensorInfo> tensors;

    private GptqCheckpoint(HfCheckpoint hf, GptqConfig gptq, Map<String, GptqWeight> weights, List<TensorInfo> tensors) {
        this.hf = hf;
        this.gptq = gptq;
        this.weights = weights;
        this.tensors = tensors;
    }

    /**
     * {@code hf} as arica reads it: a GptqCheckpoint over it when its quantize_config.json (or config.json's
     * quantization_config) says GPTQ, else {@code hf} itself. On failure {@code hf} is left open for the caller to close.
     */
    public static Checkpoint of(HfCheckpoint hf) throws IOException {
        Optional<GptqConfig> gptq = GptqConfig.of(hf.path(), hf.config().orElse(null));
        return gptq.isPresent() ? open(hf, gptq.get()) : hf;
    }

    private static GptqCheckpoint open(HfCheckpoint hf, GptqConfig gptq) throws IOException {
        Map<String, TensorInfo> stored = new LinkedHashMap<>();
        hf.tensors().forEach(t -> stored.put(t.name(), t));
        Map<String, GptqWeight> byStored = new HashMap<>();
        Map<String, GptqWeight> weights = new LinkedHashMap<>();
        for (String name : stored.keySet()) {
            if (name.endsWith(GptqWeight.QWEIGHT)) {
                GptqWeight w = GptqWeight.of(name.substring(0, name.length() - GptqWeight.QWEIGHT.length()), stored, gptq,
                        n -> fileOf(hf, n));
                weights.put(w.name(), w);
                for (String s : w.stored()) {
                    byStored.put(s, w);
                }
            }
        }
        if (weights.isEmpty()) {
            throw new FormatException(gptq.file(), "describes a GPTQ checkpoint, but no tensor of " + hf.path()
                    + " ends in " + GptqWeight.QWEIGHT);
        }
        List<TensorInfo> tensors = new ArrayList<>();
        Set<GptqWeight> listed = new HashSet<>();
        for (TensorInfo t : stored.values()) {
            GptqWeight w = byStored.get(t.name());
            if (w == null && (t.name().endsWith(GptqWeight.QZEROS) || t.name().endsWith(GptqWeight.G_IDX))) {
                throw new FormatException(fileOf(hf, t.name()), t.name(), "is a GPTQ tensor without its "
                        + GptqWeight.QWEIGHT + " beside it");
            }
            if (w == null) {
                tensors.add(t);
            } else if (listed.add(w)) {
                tensors.add(w.info());
            }
        }
        refuseConv1D(hf, weights, tensors);
        GptqCheckpoint c = new GptqCheckpoint(hf, gptq, Map.copyOf(weights), List.copyOf(tensors));
        for (GptqWeight w : weights.values()) {
            c.planes(w);
        }
        return c;
    }

    /**
     * A GPTQ layer stands for a Linear weight [out, in]; a family that stores that weight as Conv1D [in, out] (GPT-2)
     * would read it transposed, wrongly and, when square, silently: refused. A config arica does not describe is left
     * to whoever describes it.
     */
    private static void refuseConv1D(HfCheckpoint hf, Map<String, GptqWeight> weights, List<TensorInfo> tensors)
            throws FormatException {
        if (hf.config().isEmpty()) {
            return;
        }
        TensorTable table;
        try {
            ConfigFields cfg = new ConfigFields(hf.path().resolve(HfCheckpoint.CONFIG), hf.config().get());
            table = Families.of(cfg, "").table(cfg, new Family.TokenIds(null, List.of()),
                    tensors.stream().map(TensorInfo::name).collect(Collectors.toSet()));
        } catch (FormatException e) {
            return;
        }
        for (GptqWeight w : weights.values()) {
            if (table.byName(w.name()).filter(s -> s.orientation() == Orientation.IN_OUT).isPresent()) {
                throw new FormatException(fileOf(hf, w.qweight()), w.qweight(), "is a GPTQ layer of a weight the family "
                        + "stores as Conv1D [in, out], which arica does not read from GPTQ checkpoints");
            }
        }
    }

    private static Path fileOf(HfCheckpoint hf, String tensor) {
        return hf.location(tensor).map(FileRange::file).orElse(hf.path());
    }

    /** How the checkpoint was quantized. */
    public GptqConfig gptq() {
        return gptq;
    }

    /** The GPTQ layer whose float weight is {@code name}, empty for a tensor stored as it is. */
    public Optional<GptqWeight> weight(String name) {
        return Optional.ofNullable(weights.get(name));
    }

    /** The stored values of a GPTQ layer, read from the mapping. */
    public GptqPlanes planes(GptqWeight w) throws IOException {
        List<Tensor> parts = new ArrayList<>();
        for (String s : w.stored()) {
            parts.add(hf.tensor(s));
        }
        return GptqPlanes.of(w, gptq, parts, fileOf(hf, w.gIdx()));
    }

    /** The tensors as the files store them: qweight, qzeros, scales and g_idx of each GPTQ layer. */
    public List<TensorInfo> storedTensors() {
        return hf.tensors();
    }

    /** The directory read as it is. */
    public HfCheckpoint directory() {
        return hf;
    }

    @Override
    public String format() {
        return "gptq";
    }

    @Override
    public Path path() {
        return hf.path();
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** A GPTQ layer's weight dequantized into memory of its own (freed with the tensor); any other tensor mapped. */
    @Override
    public Tensor tensor(String name) throws IOException {
        GptqWeight w = weights.get(name);
        if (w == null) {
            return hf.tensor(name);
        }
        MemorySegment f32 = Arena.ofAuto().allocate(w.info().byteSize(), 64);
        planes(w).dequantizeRows(f32, 0, w.out());
        return Tensor.of(w.info(), f32);
    }

    @Override
    public Optional<FileRange> location(String name) {
        return weights.containsKey(name) ? Optional.empty() : hf.location(name);
    }

    /** The files' metadata without AutoGPTQ's {@code gptq_*} keys, which describe the stored planes, not the weights. */
    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>(hf.metadata());
        m.keySet().removeIf(k -> k.startsWith("gptq_"));
        return m;
    }

    /** The directory's config.json without its quantization_config, which describes the stored planes. */
    @Override
    public Optional<ObjectNode> config() {
        return hf.config().map(c -> {
            ObjectNode copy = c.deepCopy();
            copy.remove(GptqConfig.CONFIG_KEY);
            return copy;
        });
    }

    /** The directory's side files but quantize_config.json, which describes the stored planes. */
    @Override
    public List<AuxFile> auxFiles() {
        return hf.auxFiles().stream().filter(a -> !a.name().equals(GptqConfig.FILE)).toList();
    }

    /** The safetensors files and the file of the GPTQ description, which decides what their bytes mean. */
    @Override
    public List<Path> dataFiles() {
        List<Path> files = new ArrayList<>(hf.dataFiles());
        files.add(gptq.file());
        return List.copyOf(files);
    }

    /** Bytes of the stored tensors (the GPTQ planes, not the float weights they stand for). */
    @Override
    public long dataBytes() {
        return hf.dataBytes();
    }

    @Override
    public void close() {
        hf.close();
    }
}
