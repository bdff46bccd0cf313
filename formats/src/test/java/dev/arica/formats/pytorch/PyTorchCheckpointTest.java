package dev.arica.formats.pytorch;

import static dev.arica.formats.TestSupport.assertFormatError;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.f32;
import static dev.arica.formats.TestSupport.shape;
import static dev.arica.formats.TestSupport.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.testing.PickleWriter;
import dev.arica.formats.testing.PickleWriter.Global;
import dev.arica.formats.testing.PickleWriter.Reduce;
import dev.arica.formats.testing.PickleWriter.Tup;
import dev.arica.formats.testing.TorchSave;
import dev.arica.formats.testing.TorchSave.StorageType;
import dev.arica.formats.testing.TorchTwin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PyTorchCheckpointTest {

    @TempDir
    Path dir;

    /** The sample state dict in {@code layout}: "zip" (a plain dict), "module" (OrderedDict with _metadata), "legacy". */
    private static byte[] sample(TorchTwin twin, String layout) {
        return switch (layout) {
            case "zip" -> twin.torch.zip("pytorch_model");
            case "module" -> twin.torch.moduleStateDict().zip("archive");
            case "legacy" -> twin.torch.legacy();
            default -> throw new IllegalArgumentException(layout);
        };
    }

    /** Same tensors in the same order, with the same dtypes, shapes and bytes. */
    private static void assertSameTensors(Checkpoint expected, Checkpoint actual) throws IOException {
        assertEquals(expected.tensors(), actual.tensors());
        for (TensorInfo t : expected.tensors()) {
            assertArrayEquals(bytesOf(expected.tensor(t.name())), bytesOf(actual.tensor(t.name())), t.name());
        }
    }

    private Path zipOf(String name, byte[] dataPkl, Map<String, byte[]> storages) throws IOException {
        return write(dir, name, TorchSave.zip("archive", dataPkl, storages));
    }

    /** A zip written by java.util.zip, a writer other than PyTorch's. */
    private static byte[] javaZip(Map<String, byte[]> entries, int method) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                entry.setMethod(method);
                if (method == ZipEntry.STORED) {
                    CRC32 crc = new CRC32();
                    crc.update(e.getValue());
                    entry.setSize(e.getValue().length);
                    entry.setCrc(crc.getValue());
                }
                z.putNextEntry(entry);
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return out.toByteArray();
    }

    /** Sets the sizes that the central directory gives entry {@code name}. */
    private static byte[] withCentralSize(byte[] zip, String name, int size) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int at = -1;
        for (int i = 0; i + n.length <= zip.length; i++) {
            if (Arrays.equals(zip, i, i + n.length, n, 0, n.length)) {
                at = i;
            }
        }
        byte[] out = zip.clone();
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(at - 46 + 20, size).putInt(at - 46 + 24, size);
        return out;
    }

    private static Map<String, byte[]> storages(Object... keysAndBytes) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndBytes.length; i += 2) {
            m.put((String) keysAndBytes[i], (byte[]) keysAndBytes[i + 1]);
        }
        return m;
    }

    // ---- reading ----

    @ParameterizedTest
    @ValueSource(strings = {"zip", "module", "legacy"})
    void loadsLikeItsSafetensorsTwin(String layout) throws Exception {
        TorchTwin twin = TorchTwin.sample();
        Path bin = write(dir, "pytorch_model.bin", sample(twin, layout));
        Path st = twin.safetensors.writeTo(dir.resolve("twin.safetensors"));
        try (Checkpoint pt = Checkpoint.open(bin); Checkpoint expected = Checkpoint.open(st)) {
            assertInstanceOf(PyTorchCheckpoint.class, pt);
            assertEquals("pytorch", pt.format());
            assertSameTensors(expected, pt);
            assertEquals(expected.parameterCount(), pt.parameterCount());
            assertEquals(Map.of(), pt.metadata());
            assertEquals(List.of(bin), pt.dataFiles());
        }
    }

    @Test
    void tensorsAreViewsOfTheMappedFile() throws Exception {
        TorchTwin twin = TorchTwin.sample();
        for (String layout : List.of("zip", "legacy")) {
            Path bin = write(dir, layout + ".bin", sample(twin, layout));
            byte[] file = Files.readAllBytes(bin);
            try (Checkpoint pt = Checkpoint.open(bin)) {
                for (TensorInfo t : pt.tensors()) {
                    Tensor tensor = pt.tensor(t.name());
                    assertEquals(1, tensor.parts().size());
                    assertTrue(tensor.parts().getFirst().isMapped(), t.name());
                    FileRange r = pt.location(t.name()).orElseThrow();
                    assertEquals(bin, r.file());
                    assertArrayEquals(bytesOf(tensor), Arrays.copyOfRange(file, (int) r.offset(),
                            (int) (r.offset() + r.length())), t.name());
                }
                // PyTorch aligns each storage to 64 bytes; a view at element 0 starts there.
                if (layout.equals("zip")) {
                    assertEquals(0, pt.location("model.embed_tokens.weight").orElseThrow().offset() % 64);
                }
                assertTrue(pt.location("nothing").isEmpty());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"adapter_model.bin", "model.pt", "checkpoint.pth", "weights"})
    void recognisedByItsContentWhateverItsName(String name) throws Exception {
        Path f = write(dir, name, TorchTwin.sample().torch.zip("archive"));
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals("pytorch", c.format());
            assertEquals(10 + 1, c.tensors().size());
        }
    }

    @Test
    void aPickleOfAnotherWriterIsRefused() throws Exception {
        Map<String, Object> plain = new LinkedHashMap<>();
        plain.put("w", 1);
        Path f = write(dir, "state.bin", PickleWriter.dump(plain));
        assertFormatError(f, null, () -> Checkpoint.open(f), "a pickle, but not one torch.save wrote");
        assertFormatError(f, null, () -> PyTorchCheckpoint.open(f), "neither a zip archive nor a legacy file");
        Path empty = write(dir, "empty.pt", new byte[0]);
        assertFormatError(empty, null, () -> PyTorchCheckpoint.open(empty), "not a PyTorch checkpoint");
    }

    @Test
    void hfDirectoryWithPytorchModelBin() throws Exception {
        TorchTwin twin = TorchTwin.sample();
        Path hf = Files.createDirectory(dir.resolve("hf"));
        write(hf, HfCheckpoint.PYTORCH_SINGLE, twin.torch.zip("pytorch_model"));
        Files.writeString(hf.resolve("config.json"), "{\"model_type\":\"llama\"}");
        Files.writeString(hf.resolve("tokenizer.json"), "{}");
        try (Checkpoint c = Checkpoint.open(hf); Checkpoint expected = Checkpoint.open(twin.safetensors.writeTo(
                dir.resolve("twin.safetensors")))) {
            assertInstanceOf(HfCheckpoint.class, c);
            assertSameTensors(expected, c);
            assertEquals("llama", c.config().orElseThrow().get("model_type").textValue());
            assertEquals(List.of("tokenizer.json"), c.auxFiles().stream().map(a -> a.name()).toList());
            assertEquals(List.of(hf.resolve(HfCheckpoint.PYTORCH_SINGLE)), c.dataFiles());
        }
    }

    @Test
    void shardedHfDirectoryWithPytorchModelBins() throws Exception {
        Path hf = Files.createDirectory(dir.resolve("sharded"));
        String s1 = "pytorch_model-00001-of-00002.bin";
        String s2 = "pytorch_model-00002-of-00002.bin";
        TorchTwin first = new TorchTwin().tensor("a", DType.F32, shape(2), f32(1, 2)).tensor("b", DType.F16, shape(1),
                new byte[] {0, 0x3c});
        TorchTwin second = new TorchTwin().tensor("c", DType.I64, shape(1), new byte[8]);
        write(hf, s1, first.torch.zip("pytorch_model-00001-of-00002"));
        write(hf, s2, second.torch.zip("pytorch_model-00002-of-00002"));
        Files.writeString(hf.resolve(HfCheckpoint.PYTORCH_INDEX), "{\"metadata\":{\"total_size\":18},\"weight_map\":"
                + "{\"a\":\"" + s1 + "\",\"b\":\"" + s1 + "\",\"c\":\"" + s2 + "\"}}");
        try (HfCheckpoint c = HfCheckpoint.open(hf)) {
            assertEquals(2, c.shardCount());
            assertEquals(List.of("a", "b", "c"), c.tensors().stream().map(TensorInfo::name).toList());
            assertArrayEquals(f32(1, 2), bytesOf(c.tensor("a")));
            assertEquals(hf.resolve(s2), c.location("c").orElseThrow().file());
            assertEquals(List.of(), c.auxFiles());
        }
        Files.writeString(hf.resolve(HfCheckpoint.PYTORCH_INDEX), "{\"weight_map\":{\"a\":\"" + s1 + "\",\"c\":\"" + s2
                + "\"}}");
        assertFormatError(hf.toAbsolutePath().normalize().resolve(s1), "b", () -> HfCheckpoint.open(hf),
                "is in the shard but not in " + HfCheckpoint.PYTORCH_INDEX);
    }

    // ---- what it refuses ----

    /**
     * Pickles that run a command when Python unpickles them (CPython's pickle.loads of these bytes creates the marker:
     * checked with CPython 3.11): refused at their GLOBAL, the marker never appears.
     */
    @ParameterizedTest
    @ValueSource(strings = {"os.system", "posix.system", "builtins.eval", "subprocess.Popen", "inside a state dict"})
    void aPickleThatWouldRunCodeRunsNothing(String exploit) throws Exception {
        Path marker = dir.resolve("marker");
        String touch = "touch " + marker;
        byte[] pickle = switch (exploit) {
            case "os.system", "posix.system" -> {
                String[] g = exploit.split("\\.");
                yield new PickleWriter().op(0x80, 2).global(g[0], g[1]).unicode(touch).op(0x85, 'R', '.').toByteArray();
            }
            case "builtins.eval" -> new PickleWriter().op(0x80, 2).global("builtins", "eval")
                    .unicode("open('" + marker + "', 'w').close()").op(0x85, 'R', '.').toByteArray();
            case "subprocess.Popen" -> new PickleWriter().op(0x80, 2).global("subprocess", "Popen").op('(')
                    .unicode("touch").unicode(marker.toString()).op('l', 0x85, 'R', '.').toByteArray();
            default -> {
                Map<String, Object> dict = new LinkedHashMap<>();
                dict.put("w", new Reduce(new Global("os", "system"), new Tup(touch), null, null));
                yield PickleWriter.dump(dict);
            }
        };
        Path bin = zipOf("pytorch_model.bin", pickle, Map.of());
        FormatException e = assertFormatError(bin, null, () -> Checkpoint.open(bin), "archive/data.pkl at byte ",
                "asks for the global " + (exploit.contains(".") ? exploit : "os.system"), "allow-list");
        assertFalse(e.getMessage().contains("touch"), "the command is not echoed: " + e.getMessage());
        assertFalse(Files.exists(marker), "the pickle's command ran");
    }

    @Test
    void aTruncatedArchiveIsRefused() throws Exception {
        byte[] whole = TorchTwin.sample().torch.zip("archive");
        for (int length : new int[] {whole.length - 1, whole.length - 22, whole.length / 2, 100, 4}) {
            Path f = write(dir, "cut-" + length + ".bin", Arrays.copyOf(whole, length));
            assertFormatError(f, null, () -> Checkpoint.open(f), "no end-of-central-directory record", "truncated");
        }
    }

    @Test
    void lyingSizesAreRefusedBeforeAnythingThatLargeExists() throws Exception {
        byte[] zip = new TorchSave().tensor("w", StorageType.FLOAT, f32(1, 2, 3), 3).zip("archive");
        Path entry = write(dir, "entry.bin", withCentralSize(zip, "archive/data/0", Integer.MAX_VALUE));
        assertFormatError(entry, null, () -> Checkpoint.open(entry), "zip entry 'archive/data/0' of 2147483647 bytes",
                "runs past the entries' end", "lying size");

        byte[] pkl = new PickleWriter().op(0x80, 2, '}', 'X').u32(1 << 30).toByteArray();
        Path string = zipOf("string.bin", pkl, Map.of());
        assertFormatError(string, null, () -> Checkpoint.open(string), "BINUNICODE needs 1073741824 bytes, but 0 are left");

        byte[] lying = new TorchSave().tensor("w", StorageType.FLOAT, f32(1, 2, 3), 3).dataPkl();
        Path storage = zipOf("storage.bin", lying, storages("0", f32(1, 2)));
        assertFormatError(storage, "w", () -> Checkpoint.open(storage), "storage '0' holds 8 bytes, but its persistent id "
                + "says 3 elements of F32 (12 bytes)");
    }

    @Test
    void aMissingStorageEntryNamesTheTensor() throws Exception {
        byte[] pkl = new TorchTwin().tensor("a", DType.F32, shape(1), f32(1)).tensor("b", DType.BF16, shape(2),
                new byte[4]).torch.dataPkl();
        Path f = zipOf("missing.bin", pkl, storages("0", f32(1)));
        assertFormatError(f, "b", () -> Checkpoint.open(f), "its storage '1' has no entry archive/data/1 in the archive");
    }

    @Test
    void viewsOutsideTheirStorageOrNotContiguousAreRefused() throws Exception {
        TorchSave past = new TorchSave();
        past.tensor("w", past.storage(StorageType.FLOAT, f32(1, 2, 3, 4)), 2, 3);
        Path f = write(dir, "past.bin", past.zip("archive"));
        assertFormatError(f, "w", () -> Checkpoint.open(f), "elements [2, 2 + 3) run past the end of storage '0' of 4 "
                + "elements");

        TorchSave transposed = new TorchSave();
        transposed.view("w.T", transposed.storage(StorageType.FLOAT, f32(1, 2, 3, 4, 5, 6)), 0, shape(3, 2), shape(1, 3));
        Path t = write(dir, "transposed.bin", transposed.zip("archive"));
        assertFormatError(t, "w.T", () -> Checkpoint.open(t), "non-contiguous view (size [3, 2], stride [1, 3])",
                ".contiguous()");

        // Strides of dimensions of size 1 do not matter, as in PyTorch's own contiguity rule.
        TorchSave unit = new TorchSave();
        unit.view("row", unit.storage(StorageType.FLOAT, f32(1, 2, 3)), 0, shape(1, 3), shape(99, 1));
        try (Checkpoint c = Checkpoint.open(write(dir, "unit.bin", unit.zip("archive")))) {
            assertArrayEquals(f32(1, 2, 3), bytesOf(c.tensor("row")));
        }
    }

    @Test
    void onlyLittleEndianStoragesAreRead() throws Exception {
        byte[] pkl = new TorchSave().tensor("w", StorageType.FLOAT, f32(1), 1).dataPkl();
        Path big = write(dir, "big.bin", TorchSave.zip("archive", pkl, storages("0", f32(1)), "big"));
        assertFormatError(big, null, () -> Checkpoint.open(big), "big-endian (byteorder 'big')", "little-endian data only");
        Path odd = write(dir, "odd.bin", TorchSave.zip("archive", pkl, storages("0", f32(1)), "middle"));
        assertFormatError(odd, null, () -> Checkpoint.open(odd), "byteorder record 'middle' is neither");
        // Before PyTorch 1.13 there was no byteorder record, and storages were little-endian.
        try (Checkpoint c = Checkpoint.open(write(dir, "old.bin", TorchSave.zip("archive", pkl, storages("0", f32(1)), null)))) {
            assertArrayEquals(f32(1), bytesOf(c.tensor("w")));
        }
    }

    @Test
    void archivesOfOtherWriters() throws Exception {
        byte[] pkl = new TorchSave().tensor("w", StorageType.FLOAT, f32(1, 2), 2).dataPkl();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("m/data.pkl", pkl);
        entries.put("m/data/0", f32(1, 2));
        entries.put("m/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        try (Checkpoint c = Checkpoint.open(write(dir, "stored.bin", javaZip(entries, ZipEntry.STORED)))) {
            assertArrayEquals(f32(1, 2), bytesOf(c.tensor("w")));
        }
        Path deflated = write(dir, "deflated.bin", javaZip(entries, ZipEntry.DEFLATED));
        assertFormatError(deflated, null, () -> Checkpoint.open(deflated), "' is compressed (method 8); PyTorch stores "
                + "entries uncompressed");

        entries.remove("m/version");
        Path noVersion = write(dir, "no-version.bin", javaZip(entries, ZipEntry.STORED));
        assertFormatError(noVersion, null, () -> Checkpoint.open(noVersion), "no m/version record");
        entries.put("m/version", "three".getBytes(StandardCharsets.US_ASCII));
        Path badVersion = write(dir, "bad-version.bin", javaZip(entries, ZipEntry.STORED));
        assertFormatError(badVersion, null, () -> Checkpoint.open(badVersion), "version record 'three'");

        Path flat = write(dir, "flat.bin", javaZip(Map.of("data.pkl", pkl), ZipEntry.STORED));
        assertFormatError(flat, null, () -> Checkpoint.open(flat), "zip entry 'data.pkl' is not in a folder");
        Path other = write(dir, "other.bin", javaZip(Map.of("docs/readme.txt", new byte[3]), ZipEntry.STORED));
        assertFormatError(other, null, () -> Checkpoint.open(other), "no docs/data.pkl: not a file torch.save wrote");
    }

    @Test
    void aCorruptOrOverlongDataPklIsRefused() throws Exception {
        byte[] zip = new TorchSave().tensor("weight", StorageType.FLOAT, f32(1), 1).zip("archive");
        byte[] corrupt = zip.clone();
        int at = new String(zip, StandardCharsets.ISO_8859_1).indexOf("weight");
        corrupt[at] = 'W';
        Path f = write(dir, "corrupt.bin", corrupt);
        assertFormatError(f, null, () -> Checkpoint.open(f), "zip entry 'archive/data.pkl' fails its CRC-32 check");

        byte[] pkl = new TorchSave().tensor("w", StorageType.FLOAT, f32(1), 1).dataPkl();
        Path trailing = zipOf("trailing.bin", Arrays.copyOf(pkl, pkl.length + 2), storages("0", f32(1)));
        assertFormatError(trailing, null, () -> Checkpoint.open(trailing), "archive/data.pkl: 2 bytes after its STOP");
        Path cut = zipOf("cut.bin", Arrays.copyOf(pkl, pkl.length - 1), storages("0", f32(1)));
        assertFormatError(cut, null, () -> Checkpoint.open(cut), "ends before an opcode");
    }

    @Test
    void onlyFlatStateDictsOfTensors() throws Exception {
        Path list = zipOf("list.bin", PickleWriter.dump(List.of(1, 2)), Map.of());
        assertFormatError(list, null, () -> Checkpoint.open(list), "holds a list of 2, not a state dict");
        Map<String, Object> nested = new LinkedHashMap<>();
        nested.put("state_dict", new LinkedHashMap<>());
        Path n = zipOf("nested.bin", PickleWriter.dump(nested), Map.of());
        assertFormatError(n, null, () -> Checkpoint.open(n), "key 'state_dict' holds a dict of 0, not a tensor");
        Map<Object, Object> intKey = new LinkedHashMap<>();
        intKey.put(3, 1);
        Path k = zipOf("int-key.bin", PickleWriter.dump(intKey), Map.of());
        assertFormatError(k, null, () -> Checkpoint.open(k), "a key of the state dict is int 3, not a tensor name");
        Map<String, Object> control = new LinkedHashMap<>();
        control.put("a\nb", 1);
        Path c = zipOf("control.bin", PickleWriter.dump(control), Map.of());
        assertFormatError(c, null, () -> Checkpoint.open(c), "'a\\x0ab', not a tensor name");
    }

    @Test
    void faultsOfTheLegacyFormat() throws Exception {
        byte[] legacy = TorchTwin.sample().torch.legacy();
        Path cut = write(dir, "cut.bin", Arrays.copyOf(legacy, legacy.length - 1));
        assertFormatError(cut, null, () -> Checkpoint.open(cut), "before storage '94000000000144' (truncated)");
        Path trailing = write(dir, "trailing.bin", Arrays.copyOf(legacy, legacy.length + 3));
        assertFormatError(trailing, null, () -> Checkpoint.open(trailing), "3 bytes after the last storage");
        byte[] version = legacy.clone();
        version[18] = (byte) 0xe8; // pickle 2's BININT2 1001 becomes 1000
        Path v = write(dir, "version.bin", version);
        assertFormatError(v, null, () -> Checkpoint.open(v), "legacy PyTorch protocol version is int 1000, not 1001");

        TorchSave one = new TorchSave().tensor("w", StorageType.FLOAT, f32(1, 2), 2);
        byte[] count = one.legacy();
        ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).putLong(count.length - 16, 3);
        Path c = write(dir, "count.bin", count);
        assertFormatError(c, null, () -> Checkpoint.open(c), "storage '94000000000000' at " + (count.length - 16)
                + " holds 3 elements, but its persistent id says 2");
        byte[] whole = one.legacy();
        Path short1 = write(dir, "short.bin", Arrays.copyOf(whole, whole.length - 1));
        assertFormatError(short1, null, () -> Checkpoint.open(short1), "storage '94000000000000' of 8 bytes at "
                + (whole.length - 8) + " runs past the end of the " + (whole.length - 1) + "-byte file (truncated");
    }
}
