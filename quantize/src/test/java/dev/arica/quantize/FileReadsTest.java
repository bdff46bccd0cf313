package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.safetensors.SafetensorsWriter;
import dev.arica.quantize.Fixtures.Data;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * f32 weights of a safetensors file, which the quantizer reads from the file into its chunk buffers (positional reads)
 * instead of through the mapping, are stored exactly as the quantizer makes them from the mapped floats, over several
 * chunks.
 */
class FileReadsTest {
    @TempDir
    Path tmp;

    @Test
    void weightsReadFromTheFileQuantizeAsTheMappedOnes() throws IOException {
        int rows = 5000; // rows of 256 floats: 4096 per 4 MB chunk, so two chunks, the second partial
        int cols = 256;
        String name = "model.layers.0.mlp.up_proj.weight";
        QuantLayout layout = QuantLayout.of(Scheme.Q4_0);
        float[] x = Fixtures.data(Data.GAUSSIAN, layout, rows, cols, 5);
        Path file = tmp.resolve("m.safetensors");
        try (Arena arena = Arena.ofConfined();
                SafetensorsWriter w = SafetensorsWriter.create(file,
                        List.of(new TensorInfo(name, DType.F32, new long[] {rows, cols})), Map.of())) {
            w.begin(name);
            w.write(Fixtures.segment(arena, x));
            w.commit();
        }
        Path out = tmp.resolve("m.arica");
        try (Checkpoint in = Checkpoint.open(file)) {
            assertTrue(in.location(name).isPresent(), "the reader knows where the weight lies in its file");
            CheckpointQuantizer.quantize(in, out, CheckpointQuantizer.Options.of(layout), Progress.NONE);
        }
        try (Arena arena = Arena.ofConfined(); AricaCheckpoint got = AricaCheckpoint.open(out)) {
            MemorySegment expected = arena.allocate(layout.bytes(rows, cols));
            Quantizer.of(layout).quantize(Fixtures.segment(arena, x), rows, cols, expected);
            assertEquals(-1, expected.mismatch(got.stored(name, arena)));
        }
    }
}
