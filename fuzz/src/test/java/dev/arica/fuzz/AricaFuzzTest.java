package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaCheckpoint;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** .arica: header, JSON index, trailer, stored tensors (zstd payloads decompressed and checked against their CRC). */
class AricaFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "model.arica";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void arica(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, AricaFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "arica", FILE, AricaFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        try (AricaCheckpoint c = AricaCheckpoint.open(dir.resolve(FILE))) {
            c.config();
            c.auxFiles();
            c.metadata();
            c.file().verify(Progress.NONE);
            for (TensorInfo t : c.tensors()) {
                try (Arena arena = Arena.ofConfined()) {
                    if (c.quantizedStorage(t.name()).isPresent()) {
                        c.columnOrder(t.name(), c.stored(t.name(), arena));
                    } else {
                        ReaderProperty.readAll(c.tensor(t.name()), t);
                    }
                }
            }
        }
    }
}
