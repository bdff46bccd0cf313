package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.onnx.OnnxModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** An ONNX ModelProto whose initializers lie in an external data file beside it (made by arica's exporter). */
class OnnxFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.withSiblings("onnx", Map.of());

    private static final String FILE = "model.onnx";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void model(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, OnnxFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "model", FILE, OnnxFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (OnnxModel m = OnnxModel.open(dir.resolve(FILE))) {
            m.inputs();
            m.outputs();
            m.opCounts();
            m.metadata();
            m.parameterCount();
            m.dataBytes();
            for (OnnxModel.Initializer i : m.initializers()) {
                if (i.info().isPresent() && m.data(i.name()).byteSize() != i.bytes()) {
                    throw new AssertionError(i + ": " + m.data(i.name()).byteSize() + " bytes mapped");
                }
            }
        }
    }
}
