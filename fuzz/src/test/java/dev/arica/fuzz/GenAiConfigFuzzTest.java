package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.runtime.generate.GenAiConfig;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** arica-genai.json beside an exported model: layers, key-value cache or recurrent state, token ids, file names. */
class GenAiConfigFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "arica-genai.json";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void genAiConfig(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, GenAiConfigFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "genAiConfig", FILE, GenAiConfigFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        GenAiConfig c = GenAiConfig.read(dir.resolve(FILE));
        for (int layer = 0; layer < c.numLayers(); layer++) {
            c.pastKey(layer);
            c.presentValue(layer);
        }
        for (GenAiConfig.State s : c.states()) {
            s.shapeAt(1);
        }
        c.eosTokenIds();
    }
}
