package dev.arica.formats.gguf;

import static dev.arica.formats.TestSupport.assertFormatError;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.testing.GgufBuilder.concat;
import static dev.arica.formats.testing.GgufBuilder.str;
import static dev.arica.formats.testing.GgufBuilder.u32;
import static dev.arica.formats.testing.GgufBuilder.u64;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Tensor;
import dev.arica.formats.quant.Q4_KBlock;
import dev.arica.formats.testing.GgufBuilder;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GGUF files written by hand: every value type, versions, alignment, and each malformed header refused in one line. */
class GgufFileTest {
    private static final long HUGE = 1L << 62;

    @TempDir
    Path tmp;

    private Path write(GgufBuilder b) throws IOException {
        return b.write(tmp.resolve("model.gguf"));
    }

    private Path write(byte[] bytes) throws IOException {
        Path p = tmp.resolve("model.gguf");
        Files.write(p, bytes);
        return p;
    }

    @Test
    void everyValueTypeAndNestedArraysAreRead() throws Exception {
        GgufBuilder b = new GgufBuilder()
                .raw("u8", 0, new byte[] {(byte) 200})
                .raw("i8", 1, new byte[] {(byte) -3})
                .raw("u16", 2, new byte[] {(byte) 0xff, (byte) 0xff})
                .raw("i16", 3, new byte[] {(byte) 0xfe, (byte) 0xff})
                .u32("u32", 4_000_000_000L)
                .i32("i32", -7)
                .f32("f32", 0.1f)
                .bool("bool", true)
                .string("string", "héllo")
                .raw("u64", 10, u64(-1))
                .raw("i64", 11, u64(-9))
                .raw("f64", 12, u64(Double.doubleToLongBits(2.5)))
                .ints("ints", 1, 2, 3)
                .floats("floats", 0.5f)
                .strings("strings", List.of("a", "", "ç"))
                // [[1, 2], []] of uint8 arrays
                .raw("nested", 9, concat(u32(9), u64(2), u32(0), u64(2), new byte[] {1, 2}, u32(0), u64(0)))
                .raw("empty", 9, concat(u32(8), u64(0)));
        try (GgufFile f = GgufFile.open(write(b))) {
            GgufMetadata m = f.metadata();
            assertEquals(200, m.integer("u8").getAsLong());
            assertEquals(-3, m.integer("i8").getAsLong());
            assertEquals(65535, m.integer("u16").getAsLong());
            assertEquals(-2, m.integer("i16").getAsLong());
            assertEquals(4_000_000_000L, m.integer("u32").getAsLong());
            assertEquals(-7, m.integer("i32").getAsLong());
            assertEquals(0.1f, (float) m.number("f32").getAsDouble());
            assertTrue(m.bool("bool", false));
            assertEquals("héllo", m.string("string").orElseThrow());
            assertEquals(-1, m.get("u64").orElseThrow().asLong(), "uint64 as its bits");
            assertFormatError(f.path(), null, () -> m.integer("u64"), "metadata 'u64'", "18446744073709551615");
            assertEquals(-9, m.integer("i64").getAsLong());
            assertEquals(2.5, m.number("f64").getAsDouble());
            GgufValue ints = m.array("ints", GgufValueType.INT32).orElseThrow();
            assertEquals(3, ints.longAt(2));
            assertEquals(List.of("a", "", "ç"), m.array("strings", GgufValueType.STRING).orElseThrow().strings("strings"));
            List<GgufValue> nested = m.get("nested").orElseThrow().arrays("nested");
            assertEquals(2, nested.size());
            assertEquals(2, nested.get(0).longAt(1));
            assertEquals(0, nested.get(1).size());
            assertEquals("[1, 2]", nested.get(0).toString());
            assertEquals("[0 x string]", m.get("empty").orElseThrow().toString());
            assertEquals("0.1", m.get("f32").orElseThrow().toString());
            assertEquals("[3 x string]", m.get("strings").orElseThrow().toString());
            assertEquals("[2 x array]", m.get("nested").orElseThrow().toString());
            assertFormatError(f.path(), null, () -> m.string("u8"), "metadata 'u8' is a uint8, expected a string");
            assertFormatError(f.path(), null, () -> m.requiredInt("missing", 0, 1), "metadata 'missing' is missing");
            assertEquals(List.of("u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "u64", "i64", "f64",
                    "ints", "floats", "strings", "nested", "empty"), List.copyOf(m.values().keySet()));
            assertEquals(0, f.tensors().size());
        }
    }

    @Test
    void version2AndAnAlignmentOf64AreRead() throws Exception {
        GgufBuilder b = new GgufBuilder().version(2).alignment(64).u32("general.alignment", 64)
                .f32Tensor("a", new long[] {3}, 1, 2, 3).f32Tensor("b", new long[] {2, 2}, 4, 5, 6, 7);
        try (Checkpoint c = Checkpoint.open(write(b))) {
            GgufCheckpoint g = (GgufCheckpoint) c;
            assertEquals(2, g.file().version());
            assertEquals(64, g.file().alignment());
            assertEquals(0, g.file().dataOffset() % 64);
            assertEquals(64, g.file().tensors().get(1).offset());
            assertArrayEquals(new long[] {2, 2}, c.tensors().get(1).shape());
            assertEquals(7f, MemorySegment.ofArray(bytesOf(c.tensor("b"))).getAtIndex(FloatCast.F32_LE, 3));
            assertTrue(c.config().isEmpty(), "no architecture: no config");
            assertTrue(c.auxFiles().isEmpty());
            assertEquals("no tokenizer.ggml.model", g.tokenizerProblem().orElseThrow());
        }
    }

    @Test
    void kQuantRowsAreDequantizedAndTheirQueryRowsPutBackInHfOrder() throws Exception {
        // A llama model's attn_q of 2 heads of 4 rows, Q4_K, 256 columns: one block a row.
        byte[] blocks = new byte[8 * Q4_KBlock.BYTES];
        new SplittableRandom(3).nextBytes(blocks);
        for (int r = 0; r < 8; r++) {
            blocks[r * Q4_KBlock.BYTES + 1] = 0x30; // d and dmin: finite fp16
            blocks[r * Q4_KBlock.BYTES + 3] = 0x30;
        }
        GgufBuilder b = llama(new GgufBuilder(), 2, 2).tensor("blk.0.attn_q.weight", 12, new long[] {256, 8}, blocks)
                .tensor("blk.0.attn_output.weight", 12, new long[] {256, 8}, blocks);
        try (GgufCheckpoint c = GgufCheckpoint.open(write(b))) {
            assertArrayEquals(new long[] {8, 256}, c.tensors().getFirst().shape());
            MemorySegment q = MemorySegment.ofArray(bytesOf(c.tensor("model.layers.0.self_attn.q_proj.weight")));
            MemorySegment o = MemorySegment.ofArray(bytesOf(c.tensor("model.layers.0.self_attn.o_proj.weight")));
            int[] stored = {0, 2, 1, 3, 4, 6, 5, 7};
            float[] row = new float[256];
            for (int r = 0; r < 8; r++) {
                Q4_KBlock.dequantize(MemorySegment.ofArray(blocks), (long) stored[r] * Q4_KBlock.BYTES, row, 0);
                for (int j = 0; j < 256; j++) {
                    assertEquals(row[j], q.getAtIndex(FloatCast.F32_LE, r * 256L + j), "q row " + r);
                }
                Q4_KBlock.dequantize(MemorySegment.ofArray(blocks), (long) r * Q4_KBlock.BYTES, row, 0);
                assertEquals(row[255], o.getAtIndex(FloatCast.F32_LE, r * 256L + 255), "o row " + r);
            }
            assertTrue(c.quantizedStorage("model.layers.0.self_attn.q_proj.weight").isEmpty(), "Q4_K is not stored");
        }
    }

    /** The llama metadata a GgufCheckpoint needs to present tensors as HF Llama. */
    static GgufBuilder llama(GgufBuilder b, int heads, int kvHeads) {
        return b.string("general.architecture", "llama").u32("llama.embedding_length", 256)
                .u32("llama.feed_forward_length", 8).u32("llama.block_count", 1).u32("llama.attention.head_count", heads)
                .u32("llama.attention.head_count_kv", kvHeads);
    }

    @Test
    void aTypeAricaDoesNotReadIsListedAndRefusedNamingTensorAndType() throws Exception {
        GgufBuilder b = llama(new GgufBuilder(), 2, 2).tensor("blk.0.ffn_up.weight", 16, new long[] {256, 2}, new byte[132]);
        try (GgufCheckpoint c = GgufCheckpoint.open(write(b))) {
            assertEquals(GgmlType.IQ2_XXS, c.ggmlType("model.layers.0.mlp.up_proj.weight"));
            assertFormatError(c.path(), "blk.0.ffn_up.weight", () -> c.tensor("model.layers.0.mlp.up_proj.weight"),
                    "(model.layers.0.mlp.up_proj.weight) is stored as GGML type IQ2_XXS, which arica does not read");
        }
    }

    // Malformed files: each one line naming the file, no large allocation.

    @Test
    void notGgufAtAllIsRefused() throws Exception {
        Path p = write("GGML not really".getBytes());
        assertFormatError(p, null, () -> Checkpoint.open(p), "not a GGUF file");
        Path empty = write(new byte[0]);
        assertFormatError(empty, null, () -> Checkpoint.open(empty), "not a GGUF file");
    }

    @Test
    void versionsOtherThan2And3AndBigEndianFilesAreRefused() throws Exception {
        Path v1 = write(new GgufBuilder().version(1));
        assertFormatError(v1, null, () -> GgufFile.open(v1), "GGUF version 1 is not supported");
        Path v4 = write(new GgufBuilder().version(4));
        assertFormatError(v4, null, () -> GgufFile.open(v4), "GGUF version 4");
        Path be = write(new GgufBuilder().version(Integer.reverseBytes(3)));
        assertFormatError(be, null, () -> GgufFile.open(be), "big-endian GGUF file (version 3)");
    }

    @Test
    void aTruncatedHeaderIsRefused() throws Exception {
        byte[] all = new GgufBuilder().u32("general.alignment", 32).bytes();
        // Header 24, key 8 + 17, type 4: the value's four bytes cut after two.
        Path p = write(java.util.Arrays.copyOf(all, 24 + 25 + 4 + 2));
        assertFormatError(p, null, () -> GgufFile.open(p), "the file ends inside metadata 'general.alignment' (at byte 53, "
                + "4 bytes needed, 2 left)");
        Path k = write(java.util.Arrays.copyOf(all, 30));
        assertFormatError(k, null, () -> GgufFile.open(k), "the header claims 1 metadata entries, more than the 6 bytes");
        Path q = write(java.util.Arrays.copyOf(all, 12));
        assertFormatError(q, null, () -> GgufFile.open(q), "the file ends inside the tensor count");
    }

    @Test
    void absurdCountsAreRefusedBeforeAnythingIsAllocated() throws Exception {
        Path tensors = write(new GgufBuilder().counts(HUGE, null));
        assertFormatError(tensors, null, () -> GgufFile.open(tensors), "claims 4611686018427387904 tensors");
        Path kvs = write(new GgufBuilder().counts(null, -1L));
        assertFormatError(kvs, null, () -> GgufFile.open(kvs), "claims 18446744073709551615 metadata entries");
    }

    @Test
    void absurdStringLengthsAreRefused() throws Exception {
        Path key = write(new GgufBuilder().rawEntry(concat(u64(-1), u32(4), u32(1))));
        assertFormatError(key, null, () -> GgufFile.open(key), "metadata key 0 claims 18446744073709551615 bytes");
        Path value = write(new GgufBuilder().raw("general.name", 8, concat(u64(HUGE), new byte[] {'x'})));
        assertFormatError(value, null, () -> GgufFile.open(value), "metadata 'general.name' claims 4611686018427387904 "
                + "bytes, more than the");
        Path element = write(new GgufBuilder().raw("tokens", 9, concat(u32(8), u64(2), str("a"), u64(1L << 40))));
        assertFormatError(element, null, () -> GgufFile.open(element), "metadata 'tokens' element 1 claims 1099511627776");
        Path name = write(concat(new GgufBuilder().alignment(8).counts(1L, 0L).bytes(), u64(HUGE), new byte[40]));
        assertFormatError(name, null, () -> GgufFile.open(name), "the name of tensor 0 claims 4611686018427387904 bytes");
    }

    @Test
    void aCountThatAHugeFileCouldHoldIsNotAllocatedUpFront() throws Exception {
        Assumptions.assumeTrue(Set.of("ext4", "xfs", "btrfs", "tmpfs", "zfs", "apfs").contains(Files.getFileStore(tmp).type()));
        // 300 million tensor infos claimed in an 8 GiB sparse file of zeros: read one by one, the second refused.
        Path p = new GgufBuilder().counts(300_000_000L, null).sparseData(8L << 30).writeSparse(tmp.resolve("zeros.gguf"));
        assertFormatError(p, "", () -> GgufFile.open(p), "appears twice among the tensor infos");
    }

    @Test
    void unknownValueTypesAreRefused() throws Exception {
        Path scalar = write(new GgufBuilder().raw("general.name", 13, u32(0)));
        assertFormatError(scalar, null, () -> GgufFile.open(scalar), "metadata 'general.name' has unknown value type 13");
        Path element = write(new GgufBuilder().raw("a", 9, concat(u32(99), u64(1), u32(0))));
        assertFormatError(element, null, () -> GgufFile.open(element), "metadata 'a' is an array of unknown value type 99");
    }

    @Test
    void absurdArrayLengthsAndDeepNestingAreRefused() throws Exception {
        Path longArray = write(new GgufBuilder().raw("scores", 9, concat(u32(6), u64(HUGE), u32(0))));
        assertFormatError(longArray, null, () -> GgufFile.open(longArray),
                "metadata 'scores' claims 4611686018427387904 float32 elements, more than the");
        Path strings = write(new GgufBuilder().raw("tokens", 9, concat(u32(8), u64(1L << 40))));
        assertFormatError(strings, null, () -> GgufFile.open(strings), "claims 1099511627776 string elements");
        byte[] nested = concat(u32(9), u64(1));
        for (int i = 0; i < 20; i++) {
            nested = concat(nested, u32(9), u64(1));
        }
        Path deep = write(new GgufBuilder().raw("deep", 9, concat(nested, u32(0), u64(0))));
        assertFormatError(deep, null, () -> GgufFile.open(deep), "nests arrays more than 8 deep");
    }

    @Test
    void invalidValuesAndDuplicateKeysAreRefused() throws Exception {
        Path bool = write(new GgufBuilder().raw("flag", 7, new byte[] {2}));
        assertFormatError(bool, null, () -> GgufFile.open(bool), "metadata 'flag' is a boolean of byte value 2");
        Path twice = write(new GgufBuilder().string("general.name", "a").string("general.name", "b"));
        assertFormatError(twice, null, () -> GgufFile.open(twice), "metadata 'general.name' appears twice");
        Path utf8 = write(new GgufBuilder().raw("name", 8, concat(u64(2), new byte[] {(byte) 0xc3, 0x28})));
        assertFormatError(utf8, null, () -> GgufFile.open(utf8), "metadata 'name' is not valid UTF-8");
        Path align = write(new GgufBuilder().u32("general.alignment", 48));
        assertFormatError(align, null, () -> GgufFile.open(align), "'general.alignment' is 48, not a power of two");
    }

    @Test
    void lyingTensorInfosAreRefusedNamingTheTensor() throws Exception {
        Path dims = write(new GgufBuilder().tensorAt("t", 0, new long[] {1, 1, 1, 1, 1}, 0));
        assertFormatError(dims, "t", () -> GgufFile.open(dims), "has 5 dimensions; GGML has at most 4");
        Path negative = write(new GgufBuilder().tensorAt("t", 0, new long[] {-1}, 0));
        assertFormatError(negative, "t", () -> GgufFile.open(negative), "dimension 18446744073709551615, too large");
        Path overflow = write(new GgufBuilder().tensorAt("t", 0, new long[] {1L << 40, 1L << 40}, 0));
        assertFormatError(overflow, "t", () -> GgufFile.open(overflow), "product overflows 64 bits");
        Path type = write(new GgufBuilder().tensorAt("t", 99, new long[] {4}, 0));
        assertFormatError(type, "t", () -> GgufFile.open(type), "has GGML type 99, which GGML does not define");
        Path blocks = write(new GgufBuilder().tensor("t", 8, new long[] {33, 1}, new byte[68]));
        assertFormatError(blocks, "t", () -> GgufFile.open(blocks), "is Q8_0 with rows of 33 values, not whole blocks of 32");
        Path twice = write(new GgufBuilder().f32Tensor("t", new long[] {1}, 1).f32Tensor("t", new long[] {1}, 2));
        assertFormatError(twice, "t", () -> GgufFile.open(twice), "appears twice among the tensor infos");
    }

    @Test
    void sizesAndOffsetsPastTheEndAreRefused() throws Exception {
        // A 4096 x 4096 F32 tensor claimed in a file of a few hundred bytes.
        Path size = write(new GgufBuilder().f32Tensor("a", new long[] {1}, 1).tensorAt("big", 0, new long[] {4096, 4096}, 0));
        assertFormatError(size, "big", () -> GgufFile.open(size), "needs bytes 0 to 67108864 of the data section, which has 4");
        Path offset = write(new GgufBuilder().f32Tensor("a", new long[] {8}, new float[8]).tensorAt("b", 0,
                new long[] {1}, 1L << 60));
        assertFormatError(offset, "b", () -> GgufFile.open(offset), "needs bytes 1152921504606846976 to");
        Path wrap = write(new GgufBuilder().f32Tensor("a", new long[] {8}, new float[8]).tensorAt("b", 0,
                new long[] {8}, Long.MAX_VALUE - 31));
        assertFormatError(wrap, "b", () -> GgufFile.open(wrap), "of the data section, which has 32");
        Path unaligned = write(new GgufBuilder().f32Tensor("a", new long[] {8}, new float[8]).tensorAt("b", 0,
                new long[] {1}, 4));
        assertFormatError(unaligned, "b", () -> GgufFile.open(unaligned), "starts at offset 4 of the data section, not a "
                + "multiple of the alignment 32");
        Path overlap = write(new GgufBuilder().f32Tensor("a", new long[] {16}, new float[16]).tensorAt("b", 0,
                new long[] {8}, 32));
        assertFormatError(overlap, "b", () -> GgufFile.open(overlap), "overlaps tensor 'a'");
        byte[] cut = new GgufBuilder().f32Tensor("a", new long[] {8}, new float[8]).bytes();
        // Header 24 and the tensor info 33: the file ends before the padding to 64.
        Path truncated = write(java.util.Arrays.copyOf(cut, 57));
        assertFormatError(truncated, null, () -> GgufFile.open(truncated), "the data section would start at byte");
    }

    @Test
    void inconsistentTokenizerMetadataIsRefusedOnOpen() throws Exception {
        GgufBuilder b = new GgufBuilder().string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens",
                List.of("<unk>", "a")).floats("tokenizer.ggml.scores", 0f);
        Path p = write(b);
        assertFormatError(p, null, () -> GgufCheckpoint.open(p), "metadata 'tokenizer.ggml.scores' has 1 entries for 2 tokens");
        Path bos = write(new GgufBuilder().string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens",
                List.of("<unk>", "a")).floats("tokenizer.ggml.scores", 0f, 0f).u32("tokenizer.ggml.bos_token_id", 7));
        assertFormatError(bos, null, () -> GgufCheckpoint.open(bos), "'tokenizer.ggml.bos_token_id' is 7, outside the "
                + "vocabulary of 2");
        Path other = write(new GgufBuilder().string("tokenizer.ggml.model", "bert"));
        try (GgufCheckpoint c = GgufCheckpoint.open(other)) {
            assertTrue(c.tokenizerProblem().orElseThrow().contains("'bert' is not one arica rebuilds"));
            assertFalse(c.auxFiles().stream().anyMatch(a -> a.name().equals("tokenizer.json")));
        }
    }

    @Test
    void aTensorOfAFileThatIsClosedIsNotRead() throws Exception {
        Path p = write(new GgufBuilder().f32Tensor("a", new long[] {2}, 1, 2));
        Tensor t;
        try (Checkpoint c = Checkpoint.open(p)) {
            t = c.tensor("a");
            assertEquals(8, t.info().byteSize());
        }
        assertFalse(t.parts().getFirst().scope().isAlive(), "the mapping is released with the checkpoint");
    }
}
