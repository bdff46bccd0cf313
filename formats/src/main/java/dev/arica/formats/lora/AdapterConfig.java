package dev.arica.formats.lora;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ConfigFields;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT LoRA adapter's {@code adapter_config.json}: which modules it adapts and with which rank and alpha
 * (peft {@code LoraConfig}; {@code LoraLayer.update_layer} for the scaling).
 *
 * @param targets target_modules: module names (a module matches when its name is one or ends with "." + one), or
 *     one regular expression matched against the whole module name
 * @param rankPattern per-module ranks: keys matched like the targets' names (or as regular expressions)
 * @param modulesToSave modules whose whole tensors the adapter replaces
 */
public record AdapterConfig(Path file, int r, double alpha, List<String> targets, Pattern targetRegex, boolean fanInFanOut,
        boolean rsLora, Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, List<String> modulesToSave) {

    public static final String FILE = "adapter_config.json";

    public static AdapterConfig read(Path file) throws IOException {
        ConfigFields f = new ConfigFields(file, Json.readObjectFile(file));
        String type = f.text("peft_type", "LORA");
        if (!type.equalsIgnoreCase("LORA")) {
            throw f.error("peft_type '" + type + "' is not supported (LORA)");
        }
        if (f.bool("use_dora", false)) {
            throw f.error("use_dora is true: DoRA's magnitude vectors are not merged by arica (plain LoRA only)");
        }
        if (f.has("layers_to_transform")) {
            throw f.error("layers_to_transform is set: adapters of some layers only are not supported");
        }
        String bias = f.text("bias", "none");
        if (!bias.equals("none")) {
            throw f.error("bias '" + bias + "' is not supported (none): the adapter would also change biases");
        }
        int r = f.positive("r");
        double alpha = f.positiveNumberOr(8, "lora_alpha");
        JsonNode t = f.json().get("target_modules");
        List<String> targets = new ArrayList<>();
        Pattern regex = null;
        if (t != null && t.isTextual()) {
            try {
                regex = Pattern.compile(t.textValue());
            } catch (PatternSyntaxException e) {
                throw f.error("target_modules '" + t.textValue() + "' is not a regular expression: " + e.getDescription());
            }
        } else {
            targets = f.strings("target_modules");
            if (targets.isEmpty()) {
                throw f.error("target_modules is missing or empty: the adapter adapts nothing");
            }
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : f.json().path("rank_pattern").properties()) {
            if (!e.getValue().canConvertToInt() || e.getValue().intValue() < 1) {
                throw f.error("rank_pattern '" + e.getKey() + "' is " + e.getValue() + ", not a positive rank");
            }
            ranks.put(e.getKey(), e.getValue().intValue());
        }
        Map<String, Double> alphas = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : f.json().path("alpha_pattern").properties()) {
            if (!e.getValue().isNumber() || !(e.getValue().doubleValue() > 0)) {
                throw f.error("alpha_pattern '" + e.getKey() + "' is " + e.getValue() + ", not a positive number");
            }
            alphas.put(e.getKey(), e.getValue().doubleValue());
        }
        return new AdapterConfig(file, r, alpha, List.copyOf(targets), regex, f.bool("fan_in_fan_out", false),
                f.bool("use_rslora", false), ranks, alphas, List.copyOf(f.strings("modules_to_save")));
    }

    /** Whether the adapter targets {@code module} (a base model module name such as model.layers.0.self_attn.q_proj). */
    public boolean targets(String module) {
        if (targetRegex != null) {
            return targetRegex.matcher(module).matches();
        }
        return targets.stream().anyMatch(t -> matchesKey(module, t));
    }

    /** The rank of {@code module}: rank_pattern's, else r. */
    public int rank(String module) {
        return rankPattern.entrySet().stream().filter(e -> matchesKey(module, e.getKey())).map(Map.Entry::getValue)
                .findFirst().orElse(r);
    }

    /** alpha / rank, or alpha / sqrt(rank) with rsLoRA; alpha from alpha_pattern when it names the module. */
    public double scaling(String module) {
        double a = alphaPattern.entrySet().stream().filter(e -> matchesKey(module, e.getKey())).map(Map.Entry::getValue)
                .findFirst().orElse(alpha);
        int rank = rank(module);
        return rsLora ? a / Math.sqrt(rank) : a / rank;
    }

    /** PEFT's matching of a pattern key: the module's name is the key, ends with "." + key, or matches it as a regex. */
    static boolean matchesKey(String module, String key) {
        if (module.equals(key) || module.endsWith("." + key)) {
            return true;
        }
        try {
            return Pattern.compile("(.*\\.)?" + key).matcher(module).matches();
        } catch (PatternSyntaxException e) {
            return false;
        }
    }

}
