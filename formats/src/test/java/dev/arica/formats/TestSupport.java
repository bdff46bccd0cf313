package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;

/** Fixtures built in code and the assertions the format tests share. */
public final class TestSupport {

    /** A {@link CheckpointWriter} that keeps in memory everything written, and what each tensor received. */
    public static final class RecordingWriter implements CheckpointWriter {
        /** Every byte written, in order. */
        public final ByteArrayOutputStream all = new ByteArrayOutputStream();
        /** The bytes of each tensor begun, in order. */
        public final Map<String, ByteArrayOutputStream> tensors = new LinkedHashMap<>();
        private ByteArrayOutputStream current;

        @Override
        public void begin(String name) {
            current = new ByteArrayOutputStream();
            tensors.put(name, current);
        }

        @Override
        public void write(MemorySegment bytes) {
            byte[] b = bytes.toArray(ValueLayout.JAVA_BYTE);
            all.writeBytes(b);
            if (current != null) {
                current.writeBytes(b);
            }
        }

        @Override
        public void commit() {}

        @Override
        public void close() {}
    }
    private TestSupport() {}

    /** Bytes of a safetensors file: {@code declaredLength} as u64 LE, then {@code header}, then {@code data}. */
    public static byte[] rawFile(long declaredLength, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header).put(data);
        return b.array();
    }

    /** A safetensors file with this literal JSON header (unpadded, its true length declared) and data. */
    public static byte[] rawFile(String headerJson, byte[] data) {
        byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
        return rawFile(h.length, h, data);
    }

    public static Path write(Path dir, String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /**
     * A safetensors file assembled by hand, independent of SafetensorsWriter: tensors are laid out back to
     * back in the order added and the header is written as text.
     */
    public static final class St {
        private final List<String> entries = new ArrayList<>();
        private final ByteArrayOutputStream data = new ByteArrayOutputStream();
        private final Map<String, byte[]> bytes = new LinkedHashMap<>();
        private final List<TensorInfo> infos = new ArrayList<>();
        private Map<String, String> metadata;

        public St tensor(String name, DType dtype, long[] shape, byte[] content) {
            TensorInfo info = new TensorInfo(name, dtype, shape);
            if (info.byteSize() != content.length) {
                throw new IllegalArgumentException("fixture bug: " + info + " needs " + info.byteSize() + " bytes");
            }
            long begin = data.size();
            entries.add(quote(name) + ":{\"dtype\":\"" + dtype.name() + "\",\"shape\":" + Arrays.toString(shape)
                    .replace(" ", "") + ",\"data_offsets\":[" + begin + "," + (begin + content.length) + "]}");
            data.writeBytes(content);
            bytes.put(name, content.clone());
            infos.add(info);
            return this;
        }

        /** A tensor of seeded random bytes. */
        public St random(String name, DType dtype, long[] shape, long seed) {
            return tensor(name, dtype, shape, randomBytes(seed, (int) new TensorInfo(name, dtype, shape).byteSize()));
        }

        public St metadata(Map<String, String> m) {
            metadata = new LinkedHashMap<>(m);
            return this;
        }

        public String headerJson() {
            List<String> all = new ArrayList<>();
            if (metadata != null) {
                StringBuilder m = new StringBuilder("\"__metadata__\":{");
                int i = 0;
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    m.append(i++ > 0 ? "," : "").append(quote(e.getKey())).append(':').append(quote(e.getValue()));
                }
                all.add(m.append('}').toString());
            }
            all.addAll(entries);
            return "{" + String.join(",", all) + "}";
        }

        public byte[] build() {
            return rawFile(headerJson(), data.toByteArray());
        }

        public Path writeTo(Path file) throws IOException {
            Files.write(file, build());
            return file;
        }

        /** Each tensor's bytes, by name, in the order added. */
        public Map<String, byte[]> contents() {
            return bytes;
        }

        public List<TensorInfo> infos() {
            return List.copyOf(infos);
        }
    }

    public static String quote(String s) {
        try {
            return Json.MAPPER.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] randomBytes(long seed, int n) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        return b;
    }

    /** Seeded finite floats of varied magnitude, as little-endian bytes. */
    public static byte[] randomFloats(long seed, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b.putFloat((float) (r.nextGaussian() * Math.pow(10, r.nextInt(-6, 6))));
        }
        return b.array();
    }

    public static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    public static float[] floats(byte[] le) {
        ByteBuffer b = ByteBuffer.wrap(le).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[le.length / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getFloat();
        }
        return out;
    }

    /** The tensor's data, all parts concatenated. */
    public static byte[] bytesOf(Tensor t) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (MemorySegment p : t.parts()) {
            out.writeBytes(p.toArray(ValueLayout.JAVA_BYTE));
        }
        byte[] b = out.toByteArray();
        assertEquals(t.info().byteSize(), b.length, "bytes of " + t.name());
        return b;
    }

    public static long[] shape(long... dims) {
        return dims;
    }

    /**
     * Runs {@code action}, expecting a FormatException whose message names {@code file}, the tensor (when
     * not null) and contains every fragment describing the problem.
     */
    public static FormatException assertFormatError(Path file, String tensor, Executable action, String... fragments) {
        FormatException e = assertThrows(FormatException.class, action);
        String m = e.getMessage();
        assertEquals(file, e.file(), "file of: " + m);
        assertTrue(m.startsWith(file + ": "), () -> "message does not start with the file name: " + m);
        assertFalse(m.contains("\n"), () -> "message is not one line: " + m);
        if (tensor != null) {
            assertEquals(tensor, e.tensor(), "tensor of: " + m);
            assertTrue(m.contains("tensor '" + tensor + "'"), () -> "message does not name tensor " + tensor + ": " + m);
        } else {
            assertNull(e.tensor(), "tensor of: " + m);
        }
        for (String f : fragments) {
            assertTrue(m.contains(f), () -> "message '" + m + "' does not contain '" + f + "'");
        }
        return e;
    }

    /** Names in {@code dir} that look like leftovers of an atomic write. */
    public static List<String> temporaries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(AtomicOutput.TEMP_MARK)).toList();
        }
    }

    public static void assertNoTemporaries(Path dir) throws IOException {
        assertEquals(List.of(), temporaries(dir), "temporaries left in " + dir);
    }

    public static List<String> listNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
