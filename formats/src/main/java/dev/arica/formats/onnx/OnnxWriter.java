package dev.arica.formats.onnx;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.formats.onnx.proto.TensorProto;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes an ONNX model whose large initializers live in a side file: the graph and the small initializers
 * go into the model file, every initializer above {@link Options#externalThreshold()} bytes into
 * {@code <model file name>.data} at an offset aligned to {@link Options#alignment()}. Initializers are
 * declared up front and their bytes streamed in that order, tensor by tensor, so a model larger than memory
 * passes through a small buffer; the model file itself stays small, far from protobuf's 2 GiB limit.
 */
public final class OnnxWriter implements CheckpointWriter {

    /** Appended to the model file's name to name the external data file. */
    public static final String DATA_SUFFIX = ".data";

    /** Largest slice handed to one channel write; ByteBuffers are int-indexed. */
    private static final long MAX_WRITE = 1L << 30;

    /**
     * @param externalThreshold initializers of more bytes than this go to the data file
     * @param alignment offset alignment in the data file, a power of two (4096 lets a runtime map pages)
     */
    public record Options(long externalThreshold, long alignment) {
        public Options {
            if (externalThreshold < 0) {
                throw new IllegalArgumentException("external threshold must not be negative");
            }
            if (alignment < 1 || Long.bitCount(alignment) != 1) {
                throw new IllegalArgumentException("alignment must be a power of two, not " + alignment);
            }
        }

        public static Options defaults() {
            return new Options(1024, 4096);
        }
    }

    /**
     * An initializer to write: its ONNX element type and dimensions. Types narrower than a byte (int4, uint4)
     * are packed two to a byte, the first element in the low nibble, as ONNX stores them.
     */
    public record Initializer(String name, OnnxType type, long[] dims) {
        public Initializer {
            if (type.bits() <= 0 || (type.bits() % 8 != 0 && type.bits() != 4)) {
                throw new IllegalArgumentException("cannot write " + type + " initializer " + name);
            }
            dims = dims.clone();
        }

        public static Initializer of(TensorInfo t) {
            return new Initializer(t.name(), OnnxType.of(t.dtype()), t.shape());
        }

        public long elements() {
            return TensorInfo.elements(dims);
        }

        /** Bytes of the data: elements x size, rounded up to whole bytes for 4-bit types. */
        public long byteSize() {
            return type.bits() == 4 ? (elements() + 1) / 2 : Math.multiplyExact(elements(), type.bits() / 8);
        }
    }

    /** Where one initializer goes: offset in the data file, or -1 when inline. */
    private record Slot(Initializer info, long offset) {
        boolean external() {
            return offset >= 0;
        }
    }

    private final Path modelFile;
    private final ModelProto model;
    private final List<Slot> slots;
    private final AtomicOutput modelOut;
    private final AtomicOutput dataOut;
    private final FileChannel data;
    private final Path dataFile;
    private final String dataName;
    private final List<byte[]> inline = new ArrayList<>();
    private int current = -1;
    private long remaining;
    private int inlineFill;

    private OnnxWriter(Path modelFile, Path dataFile, String dataName, AtomicOutput modelOut, AtomicOutput dataOut,
            ModelProto model, List<Slot> slots) throws IOException {
        this.modelFile = modelFile;
        this.dataName = dataName;
        this.model = model;
        this.slots = slots;
        this.modelOut = modelOut;
        this.dataOut = dataOut;
        this.dataFile = dataFile;
        boolean anyExternal = slots.stream().anyMatch(Slot::external);
        if (dataOut != null) {
            dataOut.expect(slots.stream().filter(Slot::external).mapToLong(x -> x.offset() + x.info().byteSize())
                    .max().orElse(0));
        }
        this.data = anyExternal ? AtomicOutput.create(dataFile) : null;
    }

    /**
     * A writer whose model file (and data file, when any initializer is external) appear at
     * {@code modelFile} only on commit, the data file first.
     *
     * @param model the model with its graph: nodes, inputs, outputs, and any small initializers already inline
     * @param initializers the initializers to add, in the order their bytes will be written
     */
    public static OnnxWriter create(Path modelFile, ModelProto model, List<TensorInfo> initializers, Options options)
            throws IOException {
        return atomic(modelFile, model, initializers.stream().map(Initializer::of).toList(), options);
    }

    /** {@link #create} for initializers of any ONNX type, 4-bit ones included. */
    public static OnnxWriter atomic(Path modelFile, ModelProto model, List<Initializer> initializers, Options options)
            throws IOException {
        String dataName = modelFile.getFileName() + DATA_SUFFIX;
        List<Slot> slots = plan(model, initializers, options);
        AtomicOutput m = AtomicOutput.file(modelFile);
        AtomicOutput d = null;
        try {
            d = AtomicOutput.file(modelFile.resolveSibling(dataName));
            return new OnnxWriter(m.temp(), d.temp(), dataName, m, d, model, slots);
        } catch (IOException | RuntimeException e) {
            m.close();
            if (d != null) {
                d.close();
            }
            throw e;
        }
    }

    /**
     * A writer straight to {@code modelFile} and its data file, which must not exist; for callers that make
     * a whole directory atomic themselves.
     */
    public static OnnxWriter createUnmanaged(Path modelFile, ModelProto model, List<TensorInfo> initializers,
            Options options) throws IOException {
        return unmanaged(modelFile, model, initializers.stream().map(Initializer::of).toList(), options);
    }

    /** {@link #createUnmanaged} for initializers of any ONNX type, 4-bit ones included. */
    public static OnnxWriter unmanaged(Path modelFile, ModelProto model, List<Initializer> initializers,
            Options options) throws IOException {
        String dataName = modelFile.getFileName() + DATA_SUFFIX;
        return new OnnxWriter(modelFile, modelFile.resolveSibling(dataName), dataName, null, null, model,
                plan(model, initializers, options));
    }

    private static List<Slot> plan(ModelProto model, List<Initializer> initializers, Options options) {
        Set<String> names = new HashSet<>();
        for (TensorProto t : model.getGraph().getInitializerList()) {
            names.add(t.getName());
        }
        List<Slot> slots = new ArrayList<>();
        long offset = 0;
        long inlineBytes = model.getSerializedSize();
        for (Initializer t : initializers) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("initializer name used twice: " + t.name());
            }
            if (t.byteSize() > options.externalThreshold()) {
                offset = Math.addExact(offset, options.alignment() - 1) & -options.alignment();
                slots.add(new Slot(t, offset));
                offset = Math.addExact(offset, t.byteSize());
            } else {
                slots.add(new Slot(t, -1));
                inlineBytes += t.byteSize() + 64 + t.name().length();
            }
        }
        if (inlineBytes >= OnnxModel.MAX_MODEL_BYTES) {
            throw new IllegalArgumentException("inline initializers would make the model file reach protobuf's 2 GiB "
                    + "limit; lower the external data threshold");
        }
        return slots;
    }

    /** Name of the external data file beside the model file. */
    public String dataFileName() {
        return dataName;
    }

    /** Whether the named initializer goes to the data file. */
    public boolean isExternal(String name) {
        return slots.stream().anyMatch(s -> s.info().name().equals(name) && s.external());
    }

    @Override
    public void begin(String name) throws IOException {
        if (current >= 0 && remaining != 0) {
            throw new IllegalStateException("initializer " + slots.get(current).info().name() + " is missing "
                    + remaining + " bytes");
        }
        if (current + 1 >= slots.size() || !slots.get(current + 1).info().name().equals(name)) {
            throw new IllegalStateException("initializer " + name + " is not the next one declared");
        }
        current++;
        Slot s = slots.get(current);
        remaining = s.info().byteSize();
        if (s.external()) {
            long pad = s.offset() - data.position();
            if (pad > 0) {
                writeFully(ByteBuffer.allocate((int) pad));
            }
        } else {
            inline.add(new byte[Math.toIntExact(remaining)]);
            inlineFill = 0;
        }
    }

    @Override
    public void write(MemorySegment bytes) throws IOException {
        if (current < 0 || bytes.byteSize() > remaining) {
            throw new IllegalStateException("write of " + bytes.byteSize() + " bytes does not fit the current initializer");
        }
        if (slots.get(current).external()) {
            for (long off = 0; off < bytes.byteSize(); off += MAX_WRITE) {
                writeFully(bytes.asSlice(off, Math.min(MAX_WRITE, bytes.byteSize() - off)).asByteBuffer());
            }
        } else {
            MemorySegment.copy(bytes, 0, MemorySegment.ofArray(inline.getLast()), inlineFill, bytes.byteSize());
            inlineFill += (int) bytes.byteSize();
        }
        remaining -= bytes.byteSize();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        try {
            while (b.hasRemaining()) {
                data.write(b);
            }
        } catch (IOException e) {
            throw AtomicOutput.explain(dataFile, e);
        }
    }

    @Override
    public void commit() throws IOException {
        if (remaining != 0 || current != slots.size() - 1) {
            int missing = remaining != 0 ? current : current + 1;
            throw new IllegalStateException("initializer " + slots.get(missing).info().name() + " was not written completely");
        }
        GraphProto.Builder graph = model.getGraph().toBuilder();
        int k = 0;
        for (Slot s : slots) {
            TensorProto.Builder t = TensorProto.newBuilder()
                    .setName(s.info().name())
                    .setDataType(s.info().type().code());
            for (long d : s.info().dims()) {
                t.addDims(d);
            }
            if (s.external()) {
                t.setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", dataName))
                        .addExternalData(entry("offset", Long.toString(s.offset())))
                        .addExternalData(entry("length", Long.toString(s.info().byteSize())));
            } else {
                t.setRawData(UnsafeByteOperations.unsafeWrap(inline.get(k++)));
            }
            graph.addInitializer(t);
        }
        ModelProto out = model.toBuilder().setGraph(graph).build();
        if (data != null) {
            data.close();
        }
        // Flushed to disk by the AtomicOutput that publishes the file (or the directory holding it).
        try (FileChannel ch = AtomicOutput.create(modelFile); OutputStream os = Channels.newOutputStream(ch)) {
            CodedOutputStream cos = CodedOutputStream.newInstance(os, 1 << 16);
            out.writeTo(cos);
            cos.flush();
        } catch (IOException e) {
            throw AtomicOutput.explain(modelFile, e);
        }
        if (dataOut != null) {
            if (data != null) {
                dataOut.commit();
            } else {
                dataOut.close();
            }
        }
        if (modelOut != null) {
            modelOut.commit();
        }
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    @Override
    public void close() throws IOException {
        try {
            if (data != null) {
                data.close();
            }
        } finally {
            try {
                if (dataOut != null) {
                    dataOut.close();
                }
            } finally {
                if (modelOut != null) {
                    modelOut.close();
                }
            }
        }
    }
}
