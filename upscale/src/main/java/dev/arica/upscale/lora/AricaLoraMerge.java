package dev.arica.upscale.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.AricaWriter;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.Orientation;
import dev.arica.quantize.ErrorStats;
import dev.arica.quantize.Quantizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter merged into an .arica file: each adapted weight is dequantized, merged in float32 and requantized
 * with the file's own layout (scheme, group size, zero points, transposition), with the requantization's error
 * measured against the merged float values; every other tensor is copied as stored. One tensor in memory at a time.
 */
public final class AricaLoraMerge {

    /** What requantizing one merged weight cost (null stats for a float tensor, written merged as it is). */
    public record Requantized(String name, String storage, ErrorStats error) {}

    private AricaLoraMerge() {}

    public static List<Requantized> write(AricaFile in, LoraMerge merge, Path out, Progress progress) throws IOException {
        List<Requantized> report = new ArrayList<>();
        long total = in.entries().stream().mapToLong(AricaEntry::length).sum();
        progress.start("merge-lora", total);
        try (AricaWriter w = AricaWriter.create(out)) {
            for (AricaEntry e : in.entries()) {
                if (!merge.merges(e.name())) {
                    w.copy(in, e, e.name());
                } else {
                    report.add(merged(in, e, merge, w));
                }
                progress.advance(e.length());
            }
            for (AuxFile f : in.auxFiles()) {
                w.addFile(f.name(), f.bytes());
            }
            ObjectNode provenance = in.index().path("provenance") instanceof ObjectNode p ? p.deepCopy()
                    : Json.MAPPER.createObjectNode();
            ObjectNode lora = provenance.putObject("lora");
            lora.put("adapter", merge.metadata().get("arica.lora.adapter"));
            lora.put("merged", report.size());
            Map<String, String> user = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> u : in.index().path("user").properties()) {
                user.put(u.getKey(), u.getValue().asText());
            }
            w.commit(in.config().orElse(null), provenance, user);
        } finally {
            progress.finish();
        }
        return report;
    }

    private static Requantized merged(AricaFile in, AricaEntry e, LoraMerge merge, AricaWriter w) throws IOException {
        int zstd = e.compressed() ? e.zstdLevel() : 0;
        // Shared: the merge updates rows on several threads.
        try (Arena arena = Arena.ofShared()) {
            MemorySegment stored = in.checked(e, arena);
            if (e.storage() instanceof Storage.Plain p) {
                long n = e.info().elements();
                MemorySegment f32 = arena.allocate(n * Float.BYTES, 64);
                FloatCast.cast(p.dtype(), stored, DType.F32, f32, n);
                merge.addDelta(e.name(), f32, merge.layout(e.name()));
                MemorySegment back = p.dtype() == DType.F32 ? f32 : arena.allocate(p.dtype().bytesFor(n), 64);
                if (back != f32) {
                    FloatCast.cast(DType.F32, f32, p.dtype(), back, n);
                }
                w.begin(e.name(), e.dtype(), e.shape(), e.storage(), zstd);
                w.write(back);
                w.end();
                return new Requantized(e.name(), e.storage().id(), null);
            }
            Storage.Quantized q = (Storage.Quantized) e.storage();
            long[] rowsCols = q.storedShape(e.shape());
            long rows = rowsCols[0], cols = rowsCols[1];
            Quantizer quantizer = Quantizer.of(q.layout());
            MemorySegment f32 = arena.allocate(rows * cols * Float.BYTES, 64);
            quantizer.dequantize(stored, rows, cols, f32);
            // The stored rows are [out, in] even for a Conv1D weight (stored transposed).
            merge.addDelta(e.name(), f32, Orientation.OUT_IN);
            MemorySegment requantized = arena.allocate(q.layout().bytes(rows, cols), 64);
            ErrorStats error = new ErrorStats();
            quantizer.quantizeRows(f32, requantized, cols, 0, rows, error, 0);
            w.begin(e.name(), e.dtype(), e.shape(), q, zstd);
            w.write(requantized);
            w.end();
            return new Requantized(e.name(), q.layout().describe(), error);
        }
    }
}
