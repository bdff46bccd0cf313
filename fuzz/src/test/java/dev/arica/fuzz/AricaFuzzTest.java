package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaCheckpoint;
import java.lang.foreign.Arena;

/** .arica: header, JSON index, trailer, stored tensors (zstd payloads decompressed and checked against their CRC). */
class AricaFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void arica(byte[] data) throws Exception {
        PROPERTY.check("model.arica", data, dir -> {
            try (AricaCheckpoint c = AricaCheckpoint.open(dir.resolve("model.arica"))) {
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
        });
    }
}
