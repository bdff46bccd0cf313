package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.io.FileRange;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TensorIndexTest {
    private static final Path FILE = Path.of("model.bin");

    private static Tensor f32(String name, long... shape) {
        TensorInfo info = new TensorInfo(name, DType.F32, shape);
        return Tensor.of(info, Arena.ofAuto().allocate(info.byteSize()));
    }

    @Test
    void keepsStorageOrderAndFindsByName() {
        Tensor b = f32("b", 2, 3);
        Tensor a = f32("a", 4);
        TensorIndex index = TensorIndex.builder(FILE).add(b, 100).add(a).build();
        assertEquals(FILE, index.file());
        assertEquals(List.of(b.info(), a.info()), index.infos());
        assertSame(b, index.tensor("b"));
        assertEquals(Optional.of(a.info()), index.info("a"));
        assertEquals(Optional.empty(), index.info("c"));
    }

    @Test
    void locatesOnlyTensorsStoredAsTheyAre() {
        TensorIndex index = TensorIndex.builder(FILE).add(f32("stored", 2, 3), 100).add(f32("built", 4)).build();
        assertEquals(Optional.of(new FileRange(FILE, 100, 24)), index.location("stored"));
        assertEquals(Optional.empty(), index.location("built"));
        assertEquals(Optional.empty(), index.location("missing"));
    }

    @Test
    void refusesAnUnknownNameWithTheSharedMessage() {
        TensorIndex index = TensorIndex.builder(FILE).add(f32("a", 1)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> index.tensor("nope"));
        assertEquals("no tensor named 'nope' in model.bin", e.getMessage());
        assertEquals(e.getMessage(), TensorIndex.noTensor("nope", FILE).getMessage());
    }

    @Test
    void refusesATensorAddedTwiceOrANegativeOffset() {
        TensorIndex.Builder b = TensorIndex.builder(FILE).add(f32("a", 1));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.add(f32("a", 2), 0)).getMessage()
                .contains("'a' added twice"));
        assertThrows(IllegalArgumentException.class, () -> b.add(f32("c", 1), -1));
    }

    @Test
    void isNotChangedByItsBuilderAfterwards() {
        TensorIndex.Builder b = TensorIndex.builder(FILE).add(f32("a", 1));
        TensorIndex index = b.build();
        b.add(f32("b", 1));
        assertEquals(1, index.infos().size());
        assertThrows(IllegalArgumentException.class, () -> index.tensor("b"));
    }

    @Test
    void emptyFile() {
        TensorIndex index = TensorIndex.builder(FILE).build();
        assertEquals(List.of(), index.infos());
        assertThrows(IllegalArgumentException.class, () -> index.tensor("a"));
    }
}
