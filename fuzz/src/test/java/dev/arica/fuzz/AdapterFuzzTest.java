package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A PEFT adapter's adapter_config.json, read with the bundled adapter's weights beside it. */
class AdapterFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("adapter", Map.of(
            "adapter_model.safetensors", TestModels.dir("tiny-gemma2-lora").resolve("adapter_model.safetensors")));

    private static final String FILE = "adapter_config.json";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void adapterConfig(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, AdapterFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "adapterConfig", FILE, AdapterFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (LoraAdapter a = LoraAdapter.open(dir)) {
            a.modules();
            a.saved();
            for (String m : a.modules().keySet()) {
                a.config().rank(m);
                a.config().scaling(m);
            }
        }
    }
}
