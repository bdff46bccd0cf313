package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.testing.TestModels;
import java.util.Map;

/** A PEFT adapter's adapter_config.json, read with the bundled adapter's weights beside it. */
class AdapterFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("adapter", Map.of(
            "adapter_model.safetensors", TestModels.dir("tiny-gemma2-lora").resolve("adapter_model.safetensors")));

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void adapterConfig(byte[] data) throws Exception {
        PROPERTY.check("adapter_config.json", data, dir -> {
            try (LoraAdapter a = LoraAdapter.open(dir)) {
                a.modules();
                a.saved();
                for (String m : a.modules().keySet()) {
                    a.config().rank(m);
                    a.config().scaling(m);
                }
            }
        });
    }
}
