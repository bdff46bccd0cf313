package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.pytorch.PyTorchCheckpoint;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** torch.save files: the zip archive or the legacy format, and the pickle read without running it. */
class PyTorchFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "pytorch_model.bin";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void checkpoint(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, PyTorchFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "checkpoint", FILE, PyTorchFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (PyTorchCheckpoint c = PyTorchCheckpoint.open(dir.resolve(FILE))) {
            ReaderProperty.validate(c);
        }
    }
}
