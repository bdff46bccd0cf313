package dev.arica.formats.safetensors;

import static dev.arica.formats.TestSupport.assertFormatError;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.f32;
import static dev.arica.formats.TestSupport.rawFile;
import static dev.arica.formats.TestSupport.shape;
import static dev.arica.formats.TestSupport.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.TestSupport.St;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {

    @TempDir
    Path dir;

    /** A one-tensor header with the given JSON for the tensor's fields. */
    private static String one(String name, String fields) {
        return "{\"" + name + "\":{" + fields + "}}";
    }

    // ---- malformed files -------------------------------------------------------------------------

    @Test
    void fileShorterThanEightBytes() throws Exception {
        Path f = write(dir, "short.safetensors", new byte[] {8, 0, 0, 0, 0});
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "5 bytes", "shorter than the 8-byte header length");
    }

    @Test
    void emptyFile() throws Exception {
        Path f = write(dir, "empty.safetensors", new byte[0]);
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "0 bytes", "shorter than the 8-byte header length");
    }

    @Test
    void headerLengthLargerThanTheFile() throws Exception {
        byte[] header = "{}".getBytes(StandardCharsets.UTF_8);
        Path f = write(dir, "lying.safetensors", rawFile(1000, header, new byte[10]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header length 1000", "past the end of the file",
                "20 bytes");
    }

    @Test
    void headerLengthAboveTheLimit() throws Exception {
        Path f = write(dir, "huge.safetensors", rawFile(100_000_001L, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header length 100000001",
                "exceeds the limit of 100000000 bytes");
    }

    @Test
    void headerLengthWithTheTopBitSetIsReadAsUnsigned() throws Exception {
        Path f = write(dir, "neg.safetensors", rawFile(-1L, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header length 18446744073709551615",
                "exceeds the limit");
    }

    @Test
    void hugeLyingHeaderLengthNeverAllocatesIt() throws Exception {
        // Within the limit but far beyond the file: must be refused before any buffer of that size exists.
        Path f = write(dir, "lying.safetensors", rawFile(SafetensorsFile.MAX_HEADER_BYTES,
                "{}".getBytes(StandardCharsets.UTF_8), new byte[64]));
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        Throwable t = assertThrows(Throwable.class, () -> SafetensorsFile.open(f));
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertInstanceOf(FormatException.class, t, "expected a FormatException, got " + t);
        assertTrue(t.getMessage().contains("past the end of the file"), t.getMessage());
        assertTrue(allocated < 8_000_000, "opening an 84-byte file allocated " + allocated + " bytes");
    }

    @Test
    void headerNotUtf8() throws Exception {
        byte[] header = {'{', '"', (byte) 0xff, (byte) 0xfe, '"', ':', '1', '}'};
        Path f = write(dir, "latin.safetensors", rawFile(header.length, header, new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header is not valid UTF-8");
    }

    @Test
    void headerNotJson() throws Exception {
        Path f = write(dir, "broken.safetensors", rawFile("{\"w\": {\"dtype\": ", new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header is not valid JSON");
    }

    @Test
    void headerWithTrailingGarbageIsNotJson() throws Exception {
        Path f = write(dir, "trailing.safetensors", rawFile("{} {}", new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header is not valid JSON");
    }

    @Test
    void headerNotAnObject() throws Exception {
        Path f = write(dir, "array.safetensors", rawFile("[1, 2, 3]", new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header is not a JSON object");
    }

    @Test
    void unknownDtype() throws Exception {
        Path f = write(dir, "dtype.safetensors",
                rawFile(one("w", "\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,2]"), new byte[2]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "unknown dtype 'F7'");
    }

    @Test
    void dtypeNotAString() throws Exception {
        Path f = write(dir, "dtype.safetensors",
                rawFile(one("w", "\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]"), new byte[4]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "dtype is missing or not a string");
    }

    @Test
    void shapeWithNegativeDimension() throws Exception {
        Path f = write(dir, "shape.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "shape must be a list of non-negative integers",
                "found -1");
    }

    @Test
    void shapeWithFloatDimension() throws Exception {
        Path f = write(dir, "shape.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "shape must be a list of non-negative integers",
                "found 2.5");
    }

    @Test
    void shapeWithStringDimension() throws Exception {
        Path f = write(dir, "shape.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "shape must be a list of non-negative integers",
                "found \"2\"");
    }

    @Test
    void shapeMissing() throws Exception {
        Path f = write(dir, "shape.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"data_offsets\":[0,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "shape must be a list of non-negative integers");
    }

    @Test
    void shapeNotAList() throws Exception {
        Path f = write(dir, "shape.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "shape must be a list of non-negative integers");
    }

    @Test
    void dataOffsetsNotTwoIntegers() throws Exception {
        Path f = write(dir, "offsets.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "data_offsets must be a list of 2 non-negative integers");
    }

    @Test
    void dataOffsetsEndingBeforeTheyBegin() throws Exception {
        Path f = write(dir, "offsets.safetensors",
                rawFile(one("w", "\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]"), new byte[4]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "data_offsets [4, 0] end before they begin");
    }

    @Test
    void byteLengthNotMatchingShape() throws Exception {
        Path f = write(dir, "size.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]"), new byte[20]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "holds 20 bytes", "shape [2, 3] of F32 needs 24");
    }

    @Test
    void shapeWhoseByteSizeOverflows() throws Exception {
        Path f = write(dir, "size.safetensors", rawFile(one("w",
                "\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "is too large");
    }

    @Test
    void dataOffsetsNotStartingAtZero() throws Exception {
        Path f = write(dir, "start.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]"), new byte[8]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "data starts at 4", "gap of 4 bytes");
    }

    @Test
    void gapBetweenTensors() throws Exception {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        Path f = write(dir, "gap.safetensors", rawFile(h, new byte[12]));
        assertFormatError(f, "b", () -> SafetensorsFile.open(f), "data starts at 8", "gap of 4 bytes");
    }

    @Test
    void overlappingTensors() throws Exception {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Path f = write(dir, "overlap.safetensors", rawFile(h, new byte[12]));
        assertFormatError(f, "b", () -> SafetensorsFile.open(f), "overlaps the previous tensor", "ends at 8");
    }

    @Test
    void identicalOffsetsOverlap() throws Exception {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path f = write(dir, "alias.safetensors", rawFile(h, new byte[8]));
        FormatException e = assertThrows(FormatException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains("overlaps the previous tensor"), e.getMessage());
    }

    @Test
    void tensorEndingPastTheDataSection() throws Exception {
        Path f = write(dir, "past.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]"), new byte[12]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "data ends at 16", "past the end of the 12-byte data section");
    }

    @Test
    void bytesLeftAfterTheLastTensor() throws Exception {
        Path f = write(dir, "extra.safetensors",
                rawFile(one("w", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"), new byte[9]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "5 bytes left after the last tensor",
                "data section is 9 bytes");
    }

    @Test
    void metadataNotAnObject() throws Exception {
        Path f = write(dir, "meta.safetensors", rawFile("{\"__metadata__\":\"pt\"}", new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "__metadata__ is not a string-to-string map");
    }

    @Test
    void metadataWithNumberValue() throws Exception {
        Path f = write(dir, "meta.safetensors",
                rawFile("{\"__metadata__\":{\"format\":\"pt\",\"step\":1000}}", new byte[0]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "__metadata__ is not a string-to-string map",
                "value of 'step' is number");
    }

    @Test
    void duplicateTensorNames() throws Exception {
        String h = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Path f = write(dir, "dup.safetensors", rawFile(h, new byte[8]));
        assertFormatError(f, null, () -> SafetensorsFile.open(f), "header names 'x' twice");
    }

    @Test
    void tensorEntryNotAnObject() throws Exception {
        Path f = write(dir, "entry.safetensors", rawFile("{\"w\":[0,4]}", new byte[0]));
        assertFormatError(f, "w", () -> SafetensorsFile.open(f), "entry is not an object");
    }

    // ---- valid files -----------------------------------------------------------------------------

    @Test
    void readsTensorsInOffsetOrderWithMetadataAndPadding() throws Exception {
        // Header lists b before a; storage order is by offset.
        String h = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"ünï\"},"
                + "\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}";
        byte[] json = h.getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        byte[] header = java.util.Arrays.copyOf(json, padded + 8);
        java.util.Arrays.fill(header, json.length, header.length, (byte) ' ');
        byte[] data = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .putFloat(1.5f).putFloat(-2f).putShort((short) 7).putShort((short) -3).array();
        Path f = write(dir, "ok.safetensors", rawFile(header.length, header, data));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(List.of(new TensorInfo("a", DType.F32, shape(2, 1)), new TensorInfo("b", DType.I16, shape(2))),
                    st.tensors());
            assertEquals(Map.of("format", "pt", "note", "ünï"), st.metadata());
            assertEquals(header.length, st.headerBytes());
            assertEquals(0, st.dataOffset("a"));
            assertEquals(8, st.dataOffset("b"));
            assertArrayEquals(f32(1.5f, -2f), bytesOf(st.tensor("a")));
            assertArrayEquals(new byte[] {7, 0, (byte) 0xfd, (byte) 0xff}, bytesOf(st.tensor("b")));
            assertEquals(4, st.parameterCount());
            assertEquals(12, st.dataBytes());
            assertThrows(IllegalArgumentException.class, () -> st.tensor("c"));
        }
    }

    @Test
    void emptyTensorIsValid() throws Exception {
        Path f = new St().tensor("empty", DType.F32, shape(0, 4), new byte[0])
                .tensor("w", DType.U8, shape(3), new byte[] {1, 2, 3})
                .tensor("empty2", DType.BF16, shape(5, 0), new byte[0])
                .writeTo(dir.resolve("empty.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(3, st.tensors().size());
            Tensor e = st.tensor("empty");
            assertEquals(0, e.info().elements());
            assertEquals(0, bytesOf(e).length);
            assertEquals(0, bytesOf(st.tensor("empty2")).length);
            assertArrayEquals(new byte[] {1, 2, 3}, bytesOf(st.tensor("w")));
            assertEquals(3, st.parameterCount());
        }
    }

    @Test
    void scalarIsValid() throws Exception {
        byte[] d = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(Math.PI).array();
        Path f = new St().tensor("pi", DType.F64, shape(), d).writeTo(dir.resolve("scalar.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            TensorInfo t = st.tensors().getFirst();
            assertEquals(0, t.rank());
            assertEquals(1, t.elements());
            assertEquals(Math.PI, ByteBuffer.wrap(bytesOf(st.tensor("pi"))).order(ByteOrder.LITTLE_ENDIAN).getDouble());
        }
    }

    @Test
    void fileWithoutTensorsIsValid() throws Exception {
        Path f = write(dir, "none.safetensors", rawFile("{}      ", new byte[0]));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(List.of(), st.tensors());
            assertEquals(Map.of(), st.metadata());
            assertEquals(0, st.parameterCount());
        }
        Path g = write(dir, "meta-only.safetensors", rawFile("{\"__metadata__\":{\"format\":\"pt\"}}", new byte[0]));
        try (SafetensorsFile st = SafetensorsFile.open(g)) {
            assertEquals(List.of(), st.tensors());
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
    }

    @Test
    void looksLikeSafetensorsAndCheckpointOpenDispatch() throws Exception {
        Path good = new St().tensor("w", DType.F32, shape(1), f32(1f)).writeTo(dir.resolve("model.weights"));
        assertTrue(SafetensorsFile.looksLikeSafetensors(good));
        try (Checkpoint c = Checkpoint.open(good)) {
            assertEquals("safetensors", c.format());
            assertEquals(List.of(good), c.dataFiles());
        }
        Path bad = write(dir, "other.weights", new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        assertFalse(SafetensorsFile.looksLikeSafetensors(bad));
        assertFormatError(bad, null, () -> Checkpoint.open(bad), "unrecognised format");
    }
}
