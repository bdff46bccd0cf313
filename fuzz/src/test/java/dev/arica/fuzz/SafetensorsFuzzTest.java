package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.safetensors.SafetensorsFile;

/** safetensors: the 8-byte length, the JSON header, the offsets, every tensor's bytes. */
class SafetensorsFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void safetensors(byte[] data) throws Exception {
        PROPERTY.check("model.safetensors", data, dir -> {
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
                ReaderProperty.validate(f);
            }
        });
    }
}
