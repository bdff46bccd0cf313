package dev.arica.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Progress;
import dev.arica.testdata.SyntheticLlama;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReadBenchTest {

    @Test
    void bothReadersSeeTheSameBytes(@TempDir Path dir) throws Exception {
        SyntheticLlama.write(dir, SyntheticLlama.Preset.TINY_GQA.spec(), Long.MAX_VALUE, Progress.NONE);
        Path file = dir.resolve("model.safetensors");
        SafetensorsReadBench.Read arica = SafetensorsReadBench.readArica(file);
        SafetensorsReadBench.Read djl = SafetensorsReadBench.readDjl(file);
        assertEquals(arica.tensors(), djl.tensors());
        assertEquals(arica.tensorBytes(), djl.tensorBytes());
        assertEquals(arica.checksum(), djl.checksum());
        assertEquals(arica.checksum(), SafetensorsReadBench.readDjlCapped(file).checksum());
    }

    @Test
    void foldCoversTailBytes() {
        byte[] b = {1, 0, 0, 0, 0, 0, 0, 0, 2, 3};
        assertEquals(1L ^ 0x0302L, XorFold.fold(MemorySegment.ofArray(b)));
        b[9] = 4;
        assertEquals(1L ^ 0x0402L, XorFold.fold(MemorySegment.ofArray(b)));
    }

    @Test
    void tableGroupsRunsAndComparesWithCat() {
        String cat = line("reader", "cat", "file", "a/m.st", "bytes", "2000000000", "seconds", "1.0", "ok", "true");
        String ok1 = line("reader", "arica", "file", "a/m.st", "bytes", "2000000000", "xmx", "256m",
                "seconds", "2.0", "ok", "true", "checksum", "ab", "peak_heap", "1048576", "load_seconds", "0.5");
        String ok2 = ok1.replace("seconds=2.0", "seconds=4.0");
        String ok3 = ok1.replace("seconds=2.0", "seconds=3.0");
        String bad = line("reader", "djl", "file", "a/m.st", "bytes", "2000000000", "xmx", "8g",
                "seconds", "0.5", "ok", "false", "error", "java.lang.Boom: x");
        String bad2 = bad.replace("xmx=8g", "xmx=1g");
        String table = ResultTable.render(List.of(cat, ok1, ok2, ok3, bad, bad2, "noise"));
        assertTrue(table.contains("| a/m.st (2.00 GB) | arica | 256m | ok | 3.00 (2.00–4.00) | 0.50 | 0.67 | 3.00 | 1 MiB |"), table);
        assertTrue(table.contains("| djl | 1g | **fails** [1] |"), table);
        assertTrue(table.contains("[1]: `java.lang.Boom: x`"), table);
        assertFalse(table.contains("[2]"), table);
    }

    private static String line(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return ResultTable.format(m);
    }
}
