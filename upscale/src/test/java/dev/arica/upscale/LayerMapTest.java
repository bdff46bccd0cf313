package dev.arica.upscale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class LayerMapTest {

    @Test
    void solarDropsEightOfThirtyTwoLayersIntoFortyEight() {
        LayerMap m = LayerMap.drop(8, 32);
        assertEquals(48, m.layers());
        assertEquals("0:24,8:32", m.slicesText());
        int[] expected = IntStream.concat(IntStream.range(0, 24), IntStream.range(8, 32)).toArray();
        assertArrayEquals(expected, m.sources());
        for (int j = 0; j < 24; j++) {
            assertEquals(j, m.sources()[j], "new " + j + " copies source " + j);
            assertEquals(j + 8, m.sources()[j + 24], "new " + (j + 24) + " copies source " + (j + 8));
        }
        assertEquals(new LayerMap(32, Slice.parseList("0:24,8:32")), m, "--drop is the shorthand of these slices");
    }

    @Test
    void slicesAreCopiedInOrderAndRenumbered() {
        LayerMap m = new LayerSpec.Slices(Slice.parseList("3:5, 0:2,4:5")).resolve(6);
        assertArrayEquals(new int[] {3, 4, 0, 1, 4}, m.sources());
        assertEquals("[3,4,0,1,4]", m.sourcesJson());
        assertEquals(5, m.layers());
        assertFalse(m.identity());
        assertTrue(new LayerMap(6, List.of(new Slice(0, 6))).identity());
        assertEquals("--slices 3:5,0:2,4:5", LayerSpec.Slices.parse("3:5,0:2,4:5").describe());
        assertEquals("--drop 1", new LayerSpec.Drop(1).describe());
    }

    @Test
    void dropOfZeroRepeatsTheWholeModel() {
        assertArrayEquals(new int[] {0, 1, 2, 0, 1, 2}, LayerMap.drop(0, 3).sources());
        assertArrayEquals(new int[] {0, 4}, LayerMap.drop(4, 5).sources());
    }

    @Test
    void rangesOutsideTheModelAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LayerMap(5, Slice.parseList("0:6")));
        assertEquals("layer range 0:6 reaches outside the model's 5 layers: ranges lie within 0:5", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LayerMap(5, Slice.parseList("0:3,5:6")));
        assertThrows(IllegalArgumentException.class, () -> new LayerMap(5, List.of(new Slice(-1, 2))));
    }

    @Test
    void emptyAndReversedRangesAreRefused() {
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> new LayerMap(5, Slice.parseList("0:2,2:2")));
        assertTrue(empty.getMessage().startsWith("layer range 2:2 is empty"), empty.getMessage());
        IllegalArgumentException reversed = assertThrows(IllegalArgumentException.class,
                () -> new LayerMap(5, Slice.parseList("3:1")));
        assertEquals("layer range 3:1 is reversed: it ends before it starts", reversed.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LayerMap(5, List.of()));
    }

    @Test
    void dropThatLeavesNothingIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LayerMap.drop(5, 5));
        assertEquals("--drop 5 leaves no layers: the model has 5 layers, so at most --drop 4", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LayerMap.drop(-1, 5));
        assertThrows(IllegalArgumentException.class, () -> LayerMap.drop(1, 1));
    }

    @Test
    void malformedRangesAreRefusedByTheParser() {
        for (String bad : List.of("", "1", "1-2", "a:b", "1:2:3", "-1:2", "0:24,", ",0:1", "9999999999:1")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Slice.parseList(bad), bad);
            assertTrue(e.getMessage().contains("is not a layer range START:END"), e.getMessage());
        }
        assertEquals(List.of(new Slice(0, 24), new Slice(8, 32)), Slice.parseList(" 0 : 24 , 8:32 "));
    }
}
