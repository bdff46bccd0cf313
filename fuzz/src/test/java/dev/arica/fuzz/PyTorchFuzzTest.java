package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.pytorch.PyTorchCheckpoint;

/** torch.save files: the zip archive or the legacy format, and the pickle read without running it. */
class PyTorchFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void checkpoint(byte[] data) throws Exception {
        PROPERTY.check("pytorch_model.bin", data, dir -> {
            try (PyTorchCheckpoint c = PyTorchCheckpoint.open(dir.resolve("pytorch_model.bin"))) {
                ReaderProperty.validate(c);
            }
        });
    }
}
