package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** safetensors: the 8-byte length, the JSON header, the offsets, every tensor's bytes. */
class SafetensorsFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "model.safetensors";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void safetensors(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, SafetensorsFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "safetensors", FILE, SafetensorsFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(FILE))) {
            ReaderProperty.validate(f);
        }
    }
}
