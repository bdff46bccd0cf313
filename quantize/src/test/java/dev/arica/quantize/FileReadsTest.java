package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
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
 * Weights of a safetensors file (f32, bf16, f16), which the quantizer reads from the file into its chunk buffers
 * (positional reads, then a cast) instead of through the mapping, are stored exactly as the quantizer makes them from
 * the floats the mapping gives, over several chunks.
 */
class FileReadsTest {
    @TempDir
    Path tmp;

    @Test
    void weightsReadFromTheFileQuantizeAsTheMappedOnes() throws IOException {
        int rows = 5000; // rows of 256 floats: 4096 per 4 MB chunk, so two chunks, the second partial
        int cols = 256;
        QuantLayout layout = QuantLayout.of(Scheme.Q4_0);
        float[] x = Fixtures.data(Data.GAUSSIAN, layout, rows, cols, 5);
        List<DType> types = List.of(DType.F32, DType.BF16, DType.F16);
        Path file = tmp.resolve("m.safetensors");
        try (Arena arena = Arena.ofConfined();
                SafetensorsWriter w = SafetensorsWriter.create(file, types.stream().map(d -> new TensorInfo(name(d), d,
                        new long[] {rows, cols})).toList(), Map.of())) {
            for (DType d : types) {
                w.begin(name(d));
                w.write(stored(arena, x, d));
            }
            w.commit();
        }
        Path out = tmp.resolve("m.arica");
        try (Checkpoint in = Checkpoint.open(file)) {
            for (DType d : types) {
                assertTrue(in.location(name(d)).isPresent(), "the reader knows where each weight lies in its file");
            }
            CheckpointQuantizer.quantize(in, out, CheckpointQuantizer.Options.of(layout), Progress.NONE);
        }
        try (Arena arena = Arena.ofConfined(); AricaCheckpoint got = AricaCheckpoint.open(out)) {
            for (DType d : types) {
                // The floats the stored values stand for, as the mapping gives them.
                MemorySegment floats = arena.allocate(4L * rows * cols);
                FloatCast.cast(d, stored(arena, x, d), DType.F32, floats, (long) rows * cols);
                MemorySegment expected = arena.allocate(layout.bytes(rows, cols));
                Quantizer.of(layout).quantize(floats, rows, cols, expected);
                assertEquals(-1, expected.mismatch(got.stored(name(d), arena)), d.toString());
            }
        }
    }

    private static String name(DType d) {
        return "model.layers." + d.ordinal() + ".mlp.up_proj.weight";
    }

    /** {@code x} as stored in type {@code d}. */
    private static MemorySegment stored(Arena arena, float[] x, DType d) {
        MemorySegment f32 = Fixtures.segment(arena, x);
        if (d == DType.F32) {
            return f32;
        }
        MemorySegment out = arena.allocate(d.bytesFor(x.length));
        FloatCast.cast(DType.F32, f32, d, out, x.length);
        return out;
    }
}
