package dev.arica.formats.lora;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter directory: its config and its weights ({@code adapter_model.safetensors}, or
 * {@code adapter_model.bin} where a PyTorch reader is available), with PEFT's key names
 * ({@code base_model.model.<module>.lora_A.weight}, with or without the adapter name {@code .default}) resolved to
 * the base model's modules. Owns the opened weights.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Pattern LORA = Pattern.compile("^base_model\\.model\\.(.+)\\.lora_([AB])(?:\\.default)?\\.weight$");
    private static final Pattern SAVED = Pattern.compile(
            "^base_model\\.model\\.(.+)\\.modules_to_save(?:\\.default)?\\.(weight|bias)$");

    /** One adapted module: its low-rank factors A [r, in] and B [out, r], by tensor name in the adapter's weights. */
    public record Module(String name, String a, String b) {}

    private final Path dir;
    private final AdapterConfig config;
    private final Checkpoint weights;
    private final Map<String, Module> modules;
    private final Map<String, String> saved;

    private LoraAdapter(Path dir, AdapterConfig config, Checkpoint weights, Map<String, Module> modules,
            Map<String, String> saved) {
        this.dir = dir;
        this.config = config;
        this.weights = weights;
        this.modules = modules;
        this.saved = saved;
    }

    public static LoraAdapter open(Path dir) throws IOException {
        Path cfg = dir.resolve(AdapterConfig.FILE);
        if (!Files.isRegularFile(cfg)) {
            throw new FormatException(dir, "has no " + AdapterConfig.FILE + ": not a PEFT adapter directory");
        }
        AdapterConfig config = AdapterConfig.read(cfg);
        Path file = dir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(file)) {
            file = dir.resolve("adapter_model.bin");
        }
        if (!Files.isRegularFile(file)) {
            throw new FormatException(dir, "has neither adapter_model.safetensors nor adapter_model.bin");
        }
        Checkpoint weights = Checkpoint.open(file);
        try {
            Map<String, String[]> pairs = new LinkedHashMap<>();
            Map<String, String> saved = new LinkedHashMap<>();
            for (TensorInfo t : weights.tensors()) {
                Matcher m = LORA.matcher(t.name());
                Matcher s = SAVED.matcher(t.name());
                if (m.matches()) {
                    pairs.computeIfAbsent(m.group(1), k -> new String[2])[m.group(2).equals("A") ? 0 : 1] = t.name();
                } else if (s.matches()) {
                    saved.put(s.group(1) + "." + s.group(2), t.name());
                } else {
                    throw new FormatException(file, t.name(), "is not a LoRA factor (base_model.model.<module>.lora_A/B"
                            + ".weight) nor a module to save; embedding and bias adapters are not supported");
                }
            }
            Map<String, Module> modules = new LinkedHashMap<>();
            for (Map.Entry<String, String[]> e : pairs.entrySet()) {
                String module = e.getKey();
                if (e.getValue()[0] == null || e.getValue()[1] == null) {
                    throw new FormatException(file, e.getValue()[0] == null ? e.getValue()[1] : e.getValue()[0],
                            "has no " + (e.getValue()[0] == null ? "lora_A" : "lora_B") + " partner");
                }
                if (!config.targets(module)) {
                    throw new FormatException(file, e.getValue()[0], "adapts " + module + ", which target_modules of "
                            + AdapterConfig.FILE + " does not name");
                }
                modules.put(module, new Module(module, e.getValue()[0], e.getValue()[1]));
            }
            if (modules.isEmpty() && saved.isEmpty()) {
                throw new FormatException(file, "holds no LoRA factors");
            }
            return new LoraAdapter(dir, config, weights, modules, saved);
        } catch (IOException | RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    public AdapterConfig config() {
        return config;
    }

    /** The adapter's weights (the factors and saved modules, by their names in the adapter file). */
    public Checkpoint weights() {
        return weights;
    }

    /** Adapted modules by base module name (e.g. model.layers.0.self_attn.q_proj), in the adapter file's order. */
    public Map<String, Module> modules() {
        return modules;
    }

    /** Whole tensors the adapter replaces: base tensor name to adapter tensor name. */
    public Map<String, String> saved() {
        return saved;
    }

    @Override
    public void close() {
        weights.close();
    }
}
