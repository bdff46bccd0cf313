package dev.arica.cli;

import dev.arica.formats.lora.LoraAdapter;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --adapter DIR}: a PEFT LoRA adapter run beside the base's weights as stored, without merging. */
final class AdapterOption {
    @Option(names = "--adapter", paramLabel = "DIR",
            description = "A PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors): exported as a "
                    + "low-rank float branch beside each adapted projection (x A^T B^T scaling added to its output), so a "
                    + "quantized base keeps its weights as stored. MODEL must be a checkpoint, not an exported directory.")
    Path dir;

    /** The adapter, or null when none was given; the caller closes it. */
    LoraAdapter open() throws IOException {
        return dir == null ? null : LoraAdapter.open(dir);
    }
}
