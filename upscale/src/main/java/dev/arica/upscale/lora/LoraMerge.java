package dev.arica.upscale.lora;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.MappedMemory;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.Orientation;
import dev.arica.formats.model.TensorSpec;
import dev.arica.quantize.LowRank;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * A base checkpoint with a LoRA adapter merged in, presented as a checkpoint: every adapted weight is
 * W + scaling * B @ A (transposed for a Conv1D weight or fan_in_fan_out), computed in float32 when it is read and
 * rounded to the base's dtype; the adapter's modules to save replace the base's tensors; everything else is the
 * base's, untouched. Written by {@code Converter}, one tensor at a time, so memory holds one merged weight.
 */
public final class LoraMerge implements Checkpoint {
    /** One merge: the base weight, the adapter's factors, the scaling and whether the weight is stored [in, out]. */
    private record Merge(String weight, LoraAdapter.Module module, int rank, double scaling, boolean transposed) {}

    private final Checkpoint base;
    private final LoraAdapter adapter;
    private final Map<String, Merge> merges;
    private final Map<String, TensorInfo> infos = new HashMap<>();

    private LoraMerge(Checkpoint base, LoraAdapter adapter, Map<String, Merge> merges) {
        this.base = base;
        this.adapter = adapter;
        this.merges = merges;
        base.tensors().forEach(t -> infos.put(t.name(), t));
    }

    /**
     * Checks the adapter against the base, before anything is computed: every adapted module and every module to save
     * must exist in the base with matching shapes; the first that does not is named. {@code scale} multiplies every
     * module's scaling (1 for the adapter's own).
     */
    public static LoraMerge of(Checkpoint base, LoraAdapter adapter, double scale) throws IOException {
        Map<String, TensorInfo> have = new HashMap<>();
        base.tensors().forEach(t -> have.put(t.name(), t));
        Map<String, TensorSpec> described = new HashMap<>();
        if (base.config().isPresent()) {
            try {
                ModelDescription.of(base, "").tensors().specs().forEach(t -> described.put(t.name(), t));
            } catch (FormatException e) {
                // Not a described family: fan_in_fan_out alone says how the weights are stored.
            }
        }
        Path adapterFile = adapter.weights().path();
        Map<String, Merge> merges = new LinkedHashMap<>();
        for (LoraAdapter.Module m : adapter.modules().values()) {
            String weight = m.name() + ".weight";
            TensorInfo w = have.get(weight);
            if (w == null) {
                throw new FormatException(adapterFile, m.a(), "adapts " + m.name() + ", but the base " + base.path()
                        + " has no " + weight + " (an adapter for another model?)");
            }
            if (w.shape().length != 2 || !w.dtype().isFloat()) {
                throw new FormatException(base.path(), weight, "is " + w.dtype() + " " + w.shapeString()
                        + ", not a 2-D floating-point weight the adapter can merge into");
            }
            TensorSpec spec = described.get(weight);
            boolean transposed = adapter.config().fanInFanOut() || spec != null && spec.orientation() == Orientation.IN_OUT;
            long out = transposed ? w.shape()[1] : w.shape()[0];
            long in = transposed ? w.shape()[0] : w.shape()[1];
            int rank = adapter.config().rank(m.name());
            TensorInfo a = adapter.weights().tensors().stream().filter(t -> t.name().equals(m.a())).findFirst().orElseThrow();
            TensorInfo b = adapter.weights().tensors().stream().filter(t -> t.name().equals(m.b())).findFirst().orElseThrow();
            if (!Arrays.equals(a.shape(), new long[] {rank, in})) {
                throw new FormatException(adapterFile, m.a(), "has shape " + a.shapeString() + " but rank " + rank + " and "
                        + weight + " " + w.shapeString() + " imply [" + rank + ", " + in + "]");
            }
            if (!Arrays.equals(b.shape(), new long[] {out, rank})) {
                throw new FormatException(adapterFile, m.b(), "has shape " + b.shapeString() + " but rank " + rank + " and "
                        + weight + " " + w.shapeString() + " imply [" + out + ", " + rank + "]");
            }
            merges.put(weight, new Merge(weight, m, rank, scale * adapter.config().scaling(m.name()), transposed));
        }
        for (Map.Entry<String, String> e : adapter.saved().entrySet()) {
            TensorInfo w = have.get(e.getKey());
            TensorInfo s = adapter.weights().tensors().stream().filter(t -> t.name().equals(e.getValue())).findFirst()
                    .orElseThrow();
            if (w == null || !Arrays.equals(w.shape(), s.shape())) {
                throw new FormatException(adapterFile, e.getValue(), "replaces " + e.getKey() + ", which the base "
                        + (w == null ? "does not have" : "has with shape " + w.shapeString()));
            }
        }
        return new LoraMerge(base, adapter, merges);
    }

    /** The adapted weights, in the base's order. */
    public List<String> merged() {
        return List.copyOf(merges.keySet());
    }

    @Override
    public String format() {
        return base.format() + "+lora";
    }

    @Override
    public Path path() {
        return base.path();
    }

    @Override
    public List<TensorInfo> tensors() {
        return base.tensors();
    }

    /** A merged tensor in memory the garbage collector frees; {@link #tensor(String, Arena)} frees it sooner. */
    @Override
    public Tensor tensor(String name) throws IOException {
        return tensor(name, Arena.ofAuto());
    }

    @Override
    public Tensor tensor(String name, Arena arena) throws IOException {
        String saved = adapter.saved().get(name);
        if (saved != null) {
            Tensor s = adapter.weights().tensor(saved);
            TensorInfo want = infos.get(name);
            return s.info().dtype() == want.dtype() ? new Tensor(want, s.parts())
                    : Tensor.of(want, cast(FloatCast.f32(s, arena), want.dtype(), arena));
        }
        Merge m = merges.get(name);
        return m == null ? base.tensor(name) : merge(m, arena);
    }

    private Tensor merge(Merge m, Arena arena) throws IOException {
        TensorInfo info = infos.get(m.weight());
        Tensor stored = base.tensor(m.weight());
        MemorySegment merged;
        if (info.dtype() == DType.F32 && stored.parts().size() == 1 && layout(m.weight()) == Orientation.OUT_IN) {
            // Rows go straight from the mapping into the result: one pass over the weight, not three.
            merged = arena.allocate(info.byteSize(), 64);
            addDelta(m.weight(), stored.parts().getFirst(), merged, Orientation.OUT_IN);
        } else {
            merged = FloatCast.f32(stored, arena);
            addDelta(m.weight(), merged, layout(m.weight()));
            merged = cast(merged, info.dtype(), arena);
        }
        // Read once: the mapped pages leave the resident set, as convert's copies do.
        stored.parts().forEach(MappedMemory::release);
        return Tensor.of(info, merged);
    }

    /** How {@code weight} (one the adapter changes) is laid out in the base: [out, in], or [in, out] (Conv1D). */
    public Orientation layout(String weight) {
        return merges.get(weight).transposed() ? Orientation.IN_OUT : Orientation.OUT_IN;
    }

    /** Whether {@code weight} is one the adapter changes. */
    public boolean merges(String weight) {
        return merges.containsKey(weight);
    }

    /**
     * Adds scaling * B @ A to {@code weight}'s float32 values in {@code f32}, laid out as {@code layout} says: [out, in]
     * rows, or their transpose (a Conv1D weight as stored in a checkpoint).
     */
    public void addDelta(String weight, MemorySegment f32, Orientation layout) throws IOException {
        addDelta(weight, f32, f32, layout);
    }

    /** The same reading the weight from {@code from} and writing the result to {@code to} (may be the same). */
    private void addDelta(String weight, MemorySegment from, MemorySegment to, Orientation layout) throws IOException {
        Merge m = merges.get(weight);
        float[] a = FloatCast.floats(adapter.weights().tensor(m.module().a()));
        float[] b = FloatCast.floats(adapter.weights().tensor(m.module().b()));
        int rank = m.rank();
        int in = a.length / rank;
        int out = b.length / rank;
        // The scaling goes into B once, so that each row's update is a loop the JIT vectorizes.
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (m.scaling() * b[i]);
        }
        // Rows are independent: split over the cores (a rank-16 merge of a 7B model is ~100 GFLOP).
        IntStream.range(0, out).parallel().forEach(o -> {
            float[] row = new float[in];
            if (layout == Orientation.OUT_IN) {
                MemorySegment.copy(from, FloatCast.F32_LE, (long) o * in * Float.BYTES, row, 0, in);
            }
            LowRank.addRow(row, a, Arrays.copyOfRange(b, o * rank, (o + 1) * rank), in);
            if (layout == Orientation.OUT_IN) {
                MemorySegment.copy(row, 0, to, FloatCast.F32_LE, (long) o * in * Float.BYTES, in);
            } else {
                // A Conv1D weight [in, out]: this output feature is a column.
                for (int i = 0; i < in; i++) {
                    long at = (long) i * out + o;
                    to.setAtIndex(FloatCast.F32_LE, at, from.getAtIndex(FloatCast.F32_LE, at) + row[i]);
                }
            }
        });
    }

    private static MemorySegment cast(MemorySegment f32, DType to, Arena arena) {
        if (to == DType.F32) {
            return f32;
        }
        long n = f32.byteSize() / Float.BYTES;
        MemorySegment out = arena.allocate(to.bytesFor(n), 64);
        FloatCast.cast(DType.F32, f32, to, out, n);
        return out;
    }

    @Override
    public Optional<FileRange> location(String name) {
        return merges.containsKey(name) || adapter.saved().containsKey(name) ? Optional.empty() : base.location(name);
    }

    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>(base.metadata());
        m.put("arica.lora.adapter", adapter.dir().getFileName().toString());
        m.put("arica.lora.merged", Integer.toString(merges.size()));
        return m;
    }

    @Override
    public Optional<ObjectNode> config() {
        return base.config();
    }

    @Override
    public List<AuxFile> auxFiles() {
        return base.auxFiles();
    }

    @Override
    public List<Path> dataFiles() {
        return base.dataFiles();
    }

    /** Nothing to release: the base and the adapter belong to the caller, who closes them. */
    @Override
    public void close() {}
}
