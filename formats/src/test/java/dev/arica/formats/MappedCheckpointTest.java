package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arica.formats.io.FileRange;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MappedCheckpointTest {

    /** The least a reader adds: its format's name and metadata. */
    private static final class Reader extends MappedCheckpoint {
        Reader(Arena arena, TensorIndex index) {
            super(arena, index);
        }

        @Override
        public String format() {
            return "test";
        }

        @Override
        public Map<String, String> metadata() {
            return Map.of();
        }
    }

    @Test
    void answersFromItsIndexAndUnmapsOnClose() {
        Path file = Path.of("x.bin");
        Arena arena = Arena.ofShared();
        TensorInfo info = new TensorInfo("w", DType.F32, new long[] {2});
        Tensor w = Tensor.of(info, arena.allocate(info.byteSize()));
        Reader r = new Reader(arena, TensorIndex.builder(file).add(w, 8).build());
        assertEquals(file, r.path());
        assertEquals(List.of(file), r.dataFiles());
        assertEquals(List.of(info), r.tensors());
        assertSame(w, r.tensor("w"));
        assertEquals(Optional.of(new FileRange(file, 8, 8)), r.location("w"));
        assertEquals("no tensor named 'v' in x.bin",
                assertThrows(IllegalArgumentException.class, () -> r.tensor("v")).getMessage());
        r.close();
        assertFalse(arena.scope().isAlive());
    }
}
