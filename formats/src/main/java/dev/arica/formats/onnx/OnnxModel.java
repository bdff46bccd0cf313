package dev.arica.formats.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.onnx.proto.TensorShapeProto;
import dev.arica.formats.onnx.proto.TypeProto;
import dev.arica.formats.onnx.proto.ValueInfoProto;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * An ONNX model. The model file is parsed with aliasing, so inline initializers are views of its bytes;
 * external data files are mapped once each and their initializers are zero-copy slices of the mappings.
 * Every initializer is validated on open: type, shape, length, and that external locations stay inside
 * the model's directory and inside their file.
 */
public final class OnnxModel implements AutoCloseable {

    /** protobuf cannot parse a message of 2 GiB or more; larger models keep their weights in external data. */
    public static final long MAX_MODEL_BYTES = Integer.MAX_VALUE;

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** An imported operator set; {@code domain} is "" for the default ONNX domain. */
    public record Opset(String domain, long version) {}

    /** One dimension of a declared shape: a number, a symbolic name, or neither (unknown). */
    public record Dim(Long value, String param) {
        public static Dim of(long value) {
            return new Dim(value, null);
        }

        public static Dim symbolic(String name) {
            return new Dim(null, name);
        }

        @Override
        public String toString() {
            return value != null ? value.toString() : param != null ? param : "?";
        }
    }

    /**
     * A graph input or output. {@code type} is null when the value is not a tensor or its element type is
     * unknown to arica; {@code shape} is null when no shape is declared (empty for a scalar).
     */
    public record ValueInfo(String name, OnnxType type, List<Dim> shape) {

        /** A tensor value; each dim is a Number (fixed size) or a String (symbolic name). */
        public static ValueInfo tensor(String name, OnnxType type, Object... dims) {
            List<Dim> shape = new ArrayList<>();
            for (Object d : dims) {
                shape.add(d instanceof String s ? Dim.symbolic(s) : Dim.of(((Number) d).longValue()));
            }
            return new ValueInfo(name, type, List.copyOf(shape));
        }

        /** The declaration as it is written in a graph's input or output list. */
        public ValueInfoProto toProto() {
            TypeProto.Tensor.Builder tt = TypeProto.Tensor.newBuilder();
            if (type != null) {
                tt.setElemType(type.code());
            }
            if (shape != null) {
                TensorShapeProto.Builder sp = TensorShapeProto.newBuilder();
                for (Dim d : shape) {
                    TensorShapeProto.Dimension.Builder b = sp.addDimBuilder();
                    if (d.value() != null) {
                        b.setDimValue(d.value());
                    } else if (d.param() != null) {
                        b.setDimParam(d.param());
                    }
                }
                tt.setShape(sp);
            }
            return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tt)).build();
        }
    }

    /**
     * An initializer (a weight). {@code location} is the external data file as written in the model, or
     * null when the data is inline; {@code offset} is its position in that file.
     */
    public record Initializer(String name, OnnxType type, long[] shape, long bytes, String location, long offset) {
        public boolean external() {
            return location != null;
        }

        public long elements() {
            return TensorInfo.elements(shape);
        }

        /** The initializer as an arica tensor description, when arica has its type. */
        public Optional<TensorInfo> info() {
            return type.dtype().map(t -> new TensorInfo(name, t, shape));
        }
    }

    private final Path path;
    private final Arena arena;
    private final ModelProto model;
    private final List<Initializer> initializers;
    private final Map<String, MemorySegment> data;
    private final List<Path> dataFiles;

    private OnnxModel(Path path, Arena arena, ModelProto model, List<Initializer> initializers,
            Map<String, MemorySegment> data, List<Path> dataFiles) {
        this.path = path;
        this.arena = arena;
        this.model = model;
        this.initializers = initializers;
        this.data = data;
        this.dataFiles = dataFiles;
    }

    public static OnnxModel open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            ModelProto model = parse(path, readModelFile(path));
            Resolver resolver = new Resolver(path, arena);
            List<Initializer> inits = new ArrayList<>();
            Map<String, MemorySegment> data = new LinkedHashMap<>();
            Set<String> names = new HashSet<>();
            for (TensorProto t : model.getGraph().getInitializerList()) {
                if (!names.add(t.getName())) {
                    throw new FormatException(path, t.getName(), "initializer name used twice");
                }
                resolver.resolve(t, inits, data);
            }
            return new OnnxModel(path, arena, model, Collections.unmodifiableList(inits),
                    Collections.unmodifiableMap(data), List.copyOf(resolver.files.keySet()));
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The model file's bytes. protobuf-java parses from a heap array (its direct-memory decoder needs
     * sun.misc.Unsafe, which it no longer uses on this JDK), so the file is read once; weights kept in
     * external data are mapped instead and never reach the heap.
     */
    private static byte[] readModelFile(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                throw new FormatException(path, "empty file, not an ONNX model");
            }
            if (size > MAX_MODEL_BYTES) {
                throw new FormatException(path, "is " + size + " bytes, more than the 2 GiB a protobuf message may "
                        + "have; an ONNX model this large must keep its weights in external data");
            }
            if (size > Runtime.getRuntime().maxMemory() / 2) {
                throw new IOException(path + ": the model file is " + size + " bytes with its weights inline, more than "
                        + "half the Java heap (" + Runtime.getRuntime().maxMemory() + " bytes); raise -Xmx");
            }
            ByteBuffer b = ByteBuffer.allocate((int) size);
            while (b.hasRemaining()) {
                if (ch.read(b, b.position()) < 0) {
                    throw new FormatException(path, "file shrank while being read");
                }
            }
            return b.array();
        }
    }

    private static ModelProto parse(Path path, byte[] file) throws FormatException {
        ModelProto model;
        try {
            // Aliasing: bytes fields (raw_data) become views of the file's array instead of copies of it.
            CodedInputStream in = UnsafeByteOperations.unsafeWrap(file).newCodedInput();
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            model = ModelProto.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw new FormatException(path, "not an ONNX model (not a valid protobuf message: "
                    + oneLine(e.getMessage()) + ")");
        } catch (IOException e) {
            throw new FormatException(path, "not an ONNX model (" + oneLine(e.getMessage()) + ")");
        }
        if (!model.hasIrVersion() || model.getIrVersion() <= 0) {
            throw new FormatException(path, "not an ONNX model (no ir_version)");
        }
        if (!model.hasGraph()) {
            throw new FormatException(path, "not an ONNX model (no graph)");
        }
        if (model.getOpsetImportCount() == 0) {
            throw new FormatException(path, "not an ONNX model (no opset_import)");
        }
        return model;
    }

    /** {@code s} with control characters escaped, so that a message quoting it stays one line. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                b.append(String.format("\\u%04x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    private static String oneLine(String s) {
        return String.valueOf(s).replaceAll("\\s+", " ").trim();
    }

    /** Validates initializers and finds their bytes, mapping each external data file once. */
    private static final class Resolver {
        private final Path model;
        private final Path dir;
        private final Arena arena;
        private final Map<Path, MemorySegment> files = new LinkedHashMap<>();

        Resolver(Path model, Arena arena) {
            this.model = model;
            Path parent = model.toAbsolutePath().normalize().getParent();
            this.dir = parent == null ? Path.of("/") : parent;
            this.arena = arena;
        }

        void resolve(TensorProto t, List<Initializer> inits, Map<String, MemorySegment> data) throws IOException {
            String name = t.getName();
            if (name.isEmpty()) {
                throw new FormatException(model, "an initializer has no name");
            }
            OnnxType type = OnnxType.fromCode(t.getDataType()).orElseThrow(() -> new FormatException(model, name,
                    "unknown data_type " + t.getDataType()));
            long[] shape = new long[t.getDimsCount()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.getDims(i);
                if (shape[i] < 0) {
                    throw new FormatException(model, name, "negative dimension in shape " + t.getDimsList());
                }
            }
            long elements;
            try {
                elements = TensorInfo.elements(shape);
            } catch (ArithmeticException e) {
                throw new FormatException(model, name, "shape " + Arrays.toString(shape) + " is too large");
            }
            if (type == OnnxType.STRING) {
                if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getStringDataCount() != elements) {
                    throw new FormatException(model, name, "STRING tensor of " + elements + " elements holds "
                            + t.getStringDataCount() + " strings");
                }
                long bytes = t.getStringDataList().stream().mapToLong(ByteString::size).sum();
                inits.add(new Initializer(name, type, shape, bytes, null, 0));
                return;
            }
            long expected;
            try {
                expected = type.bytesFor(elements);
            } catch (ArithmeticException e) {
                throw new FormatException(model, name, "shape " + Arrays.toString(shape) + " is too large");
            }
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                external(t, type, shape, expected, inits, data);
                return;
            }
            MemorySegment bytes;
            if (t.hasRawData()) {
                ByteString raw = t.getRawData();
                if (raw.size() != expected) {
                    throw new FormatException(model, name, "raw_data holds " + raw.size() + " bytes but shape "
                            + Arrays.toString(shape) + " of " + type + " needs " + expected);
                }
                bytes = MemorySegment.ofBuffer(raw.asReadOnlyByteBuffer());
            } else {
                bytes = TypedData.copy(model, t, type, elements, expected, arena);
            }
            inits.add(new Initializer(name, type, shape, expected, null, 0));
            data.put(name, bytes);
        }

        private void external(TensorProto t, OnnxType type, long[] shape, long expected, List<Initializer> inits,
                Map<String, MemorySegment> data) throws IOException {
            String name = t.getName();
            String location = null;
            long offset = 0;
            long length = -1;
            Set<String> seen = new HashSet<>();
            for (StringStringEntryProto e : t.getExternalDataList()) {
                if (!seen.add(e.getKey())) {
                    throw new FormatException(model, name, "external_data names '" + printable(e.getKey()) + "' twice");
                }
                switch (e.getKey()) {
                    case "location" -> location = e.getValue();
                    case "offset" -> offset = number(name, "offset", e.getValue());
                    case "length" -> length = number(name, "length", e.getValue());
                    default -> { /* checksum and others: not needed to read the data */ }
                }
            }
            if (location == null || location.isEmpty()) {
                throw new FormatException(model, name, "external data has no location");
            }
            if (length >= 0 && length != expected) {
                throw new FormatException(model, name, "external data length " + length + " but shape "
                        + Arrays.toString(shape) + " of " + type + " needs " + expected);
            }
            Path file = locate(name, location);
            MemorySegment mapped = map(name, location, file);
            if (offset > mapped.byteSize() || expected > mapped.byteSize() - offset) {
                throw new FormatException(model, name, "external data [" + offset + ", " + (offset + expected)
                        + ") runs past the end of '" + printable(location) + "' (" + mapped.byteSize() + " bytes)");
            }
            inits.add(new Initializer(name, type, shape, expected, location, offset));
            data.put(name, mapped.asSlice(offset, expected));
        }

        private long number(String tensor, String key, String value) throws FormatException {
            if (value.isEmpty() || value.length() > 18 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new FormatException(model, tensor, "external data " + key + " '" + printable(value)
                        + "' is not a non-negative integer");
            }
            return Long.parseLong(value);
        }

        /** The data file, refusing locations that are absolute, climb out, or lead out through a link. */
        private Path locate(String tensor, String location) throws IOException {
            String shown = printable(location);
            String why = "external data location '" + shown + "' escapes the model's directory";
            boolean climbs = Arrays.stream(location.split("[/\\\\]")).anyMatch(".."::equals);
            if (climbs || location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*")) {
                throw new FormatException(model, tensor, why);
            }
            Path file;
            try {
                Path p = Path.of(location);
                file = dir.resolve(p).normalize();
                if (p.isAbsolute() || !file.startsWith(dir)) {
                    throw new FormatException(model, tensor, why);
                }
            } catch (InvalidPathException e) {
                throw new FormatException(model, tensor, "external data location '" + shown + "' is not a valid path");
            }
            if (!Files.isRegularFile(file)) {
                throw new FormatException(model, tensor, "external data file '" + shown + "' does not exist");
            }
            if (!file.toRealPath().startsWith(dir.toRealPath())) {
                throw new FormatException(model, tensor, why + " through a symbolic link");
            }
            return file;
        }

        private MemorySegment map(String tensor, String location, Path file) throws IOException {
            MemorySegment m = files.get(file);
            if (m != null) {
                return m;
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                m = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            } catch (NoSuchFileException e) {
                throw new FormatException(model, tensor, "external data file '" + printable(location) + "' does not exist");
            }
            files.put(file, m);
            return m;
        }
    }

    /** Inline data stored in the typed repeated fields rather than raw_data, copied once into the arena. */
    private static final class TypedData {
        private TypedData() {}

        static MemorySegment copy(Path model, TensorProto t, OnnxType type, long elements, long bytes, Arena arena)
                throws FormatException {
            int count = switch (type) {
                case FLOAT, COMPLEX64 -> t.getFloatDataCount();
                case DOUBLE, COMPLEX128 -> t.getDoubleDataCount();
                case INT64 -> t.getInt64DataCount();
                case UINT32, UINT64 -> t.getUint64DataCount();
                case UINT4, INT4, FLOAT4E2M1 -> -1;
                default -> t.getInt32DataCount();
            };
            long values = type == OnnxType.COMPLEX64 || type == OnnxType.COMPLEX128 ? 2 * elements : elements;
            if (count < 0) {
                throw new FormatException(model, t.getName(), "4-bit data outside raw_data is not supported");
            }
            if (count != values) {
                throw new FormatException(model, t.getName(), "holds " + count + " values but shape "
                        + t.getDimsList() + " has " + elements + " elements" + (elements == 0 ? "" : " (or no data at all)"));
            }
            MemorySegment out = bytes == 0 ? MemorySegment.NULL : arena.allocate(bytes, 8);
            for (int i = 0; i < count; i++) {
                switch (type) {
                    case FLOAT, COMPLEX64 -> out.set(F32, 4L * i, t.getFloatData(i));
                    case DOUBLE, COMPLEX128 -> out.set(F64, 8L * i, t.getDoubleData(i));
                    case INT64, UINT64 -> out.set(I64, 8L * i, type == OnnxType.INT64 ? t.getInt64Data(i) : t.getUint64Data(i));
                    case UINT32 -> out.set(I32, 4L * i, (int) t.getUint64Data(i));
                    case INT32 -> out.set(I32, 4L * i, t.getInt32Data(i));
                    case INT16, UINT16, FLOAT16, BFLOAT16 -> out.set(I16, 2L * i, (short) t.getInt32Data(i));
                    default -> out.set(ValueLayout.JAVA_BYTE, i, (byte) t.getInt32Data(i));
                }
            }
            return out;
        }
    }

    public Path path() {
        return path;
    }

    /** The parsed model. */
    public ModelProto proto() {
        return model;
    }

    public GraphProto graph() {
        return model.getGraph();
    }

    public long irVersion() {
        return model.getIrVersion();
    }

    public String producerName() {
        return model.getProducerName();
    }

    public String producerVersion() {
        return model.getProducerVersion();
    }

    public List<Opset> opsetImports() {
        List<Opset> out = new ArrayList<>();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            out.add(new Opset(o.getDomain(), o.getVersion()));
        }
        return out;
    }

    /** The graph's inputs, without those that only declare an initializer (as models before IR 4 did). */
    public List<ValueInfo> inputs() {
        Set<String> weights = new HashSet<>();
        initializers.forEach(i -> weights.add(i.name()));
        return values(model.getGraph().getInputList(), weights);
    }

    public List<ValueInfo> outputs() {
        return values(model.getGraph().getOutputList(), Set.of());
    }

    private static List<ValueInfo> values(List<ValueInfoProto> list, Set<String> skip) {
        List<ValueInfo> out = new ArrayList<>();
        for (ValueInfoProto v : list) {
            if (skip.contains(v.getName())) {
                continue;
            }
            OnnxType type = null;
            List<Dim> shape = null;
            if (v.getType().hasTensorType()) {
                var tt = v.getType().getTensorType();
                type = OnnxType.fromCode(tt.getElemType()).orElse(null);
                if (tt.hasShape()) {
                    shape = new ArrayList<>();
                    for (TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
                        shape.add(d.hasDimValue() ? Dim.of(d.getDimValue())
                                : d.hasDimParam() ? Dim.symbolic(d.getDimParam()) : new Dim(null, null));
                    }
                    shape = Collections.unmodifiableList(shape);
                }
            }
            out.add(new ValueInfo(v.getName(), type, shape));
        }
        return Collections.unmodifiableList(out);
    }

    public int nodeCount() {
        return model.getGraph().getNodeCount();
    }

    /** Nodes of the main graph by operator, sorted; operators of other domains as "domain:op". */
    public Map<String, Integer> opCounts() {
        Map<String, Integer> counts = new TreeMap<>();
        for (NodeProto n : model.getGraph().getNodeList()) {
            String d = n.getDomain();
            String key = d.isEmpty() || d.equals("ai.onnx") ? n.getOpType() : d + ":" + n.getOpType();
            counts.merge(key, 1, Integer::sum);
        }
        return counts;
    }

    public List<Initializer> initializers() {
        return initializers;
    }

    public Optional<Initializer> initializer(String name) {
        return initializers.stream().filter(i -> i.name().equals(name)).findFirst();
    }

    /** The initializer's bytes, a view of the mapped model or data file (a copy only for typed-field data). */
    public MemorySegment data(String name) {
        MemorySegment s = data.get(name);
        if (s == null) {
            throw new IllegalArgumentException(initializer(name).isPresent()
                    ? "initializer '" + name + "' holds strings, not raw bytes"
                    : "no initializer named '" + name + "' in " + path);
        }
        return s;
    }

    /** The model's metadata_props. */
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        for (StringStringEntryProto e : model.getMetadataPropsList()) {
            m.put(e.getKey(), e.getValue());
        }
        return Collections.unmodifiableMap(m);
    }

    /** The external data files, in the order the initializers first name them. */
    public List<Path> dataFiles() {
        return dataFiles;
    }

    /** Elements of all initializers. */
    public long parameterCount() {
        long n = 0;
        for (Initializer i : initializers) {
            n = Math.addExact(n, i.elements());
        }
        return n;
    }

    /** Bytes of all initializers. */
    public long dataBytes() {
        long n = 0;
        for (Initializer i : initializers) {
            n = Math.addExact(n, i.bytes());
        }
        return n;
    }

    @Override
    public void close() {
        arena.close();
    }
}
