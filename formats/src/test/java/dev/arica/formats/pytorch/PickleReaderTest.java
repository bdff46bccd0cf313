package dev.arica.formats.pytorch;

import static dev.arica.formats.TestSupport.assertFormatError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.arica.formats.FormatException;
import dev.arica.formats.testing.PickleWriter;
import dev.arica.formats.testing.PickleWriter.Global;
import dev.arica.formats.testing.PickleWriter.PersistentId;
import dev.arica.formats.testing.PickleWriter.Reduce;
import dev.arica.formats.testing.PickleWriter.Tup;
import dev.arica.formats.testing.TorchSave;
import dev.arica.formats.testing.TorchSave.StorageType;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class PickleReaderTest {

    private static final Path FILE = Path.of("model.bin");
    private static final Global REBUILD = new Global("torch._utils", "_rebuild_tensor_v2");
    private static final Global ORDERED_DICT = new Global("collections", "OrderedDict");
    private static final Global FLOAT_STORAGE = new Global("torch", "FloatStorage");

    /**
     * A state dict as torch.save(pickle_protocol=4) pickles it, by CPython 3.11 with torch's reduce functions: w is
     * _rebuild_tensor_v2 of storage '0' (3 floats) with a torch.Size of [2]; p is _rebuild_parameter of a view of
     * the same storage at offset 2. Exercises FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
     */
    private static final String PROTOCOL_4 = "800495fe000000000000008c0b636f6c6c656374696f6e73948c0b4f726465726564446963"
            + "74949394295294288c0177948c0c746f7263682e5f7574696c73948c125f72656275696c645f74656e736f725f76329493942828"
            + "8c0773746f72616765948c05746f726368948c0c466c6f617453746f726167659493948c0130948c03637075944b037494514b00"
            + "68098c0453697a659493944b028594859452944b018594896802295294749452948c0170948c0c746f7263682e5f7574696c7394"
            + "8c125f72656275696c645f706172616d65746572949394680728286808680b680c680d4b037494514b024b0185944b0185948968"
            + "022952947494529488680229529487945294752e";

    private static Object run(byte[] pickle) throws FormatException {
        return PickleReader.read(FILE, "data.pkl", MemorySegment.ofArray(pickle), 0, new HashMap<>()).value();
    }

    private static FormatException refused(byte[] pickle, String... fragments) {
        return assertFormatError(FILE, null, () -> run(pickle), fragments);
    }

    /** PROTO 2, then {@code body}, then STOP. */
    private static byte[] p2(PickleWriter body) {
        return new PickleWriter().op(0x80, 2).raw(body.toByteArray()).op('.').toByteArray();
    }

    private static PickleWriter ops(int... codes) {
        return new PickleWriter().op(codes);
    }

    private static Reduce tensor(Tup pid, long offset, Tup size, Tup stride, Object hooks) {
        return new Reduce(REBUILD, new Tup(new PersistentId(pid), offset, size, stride, false, hooks), null, null);
    }

    private static Reduce emptyOrderedDict() {
        return new Reduce(ORDERED_DICT, new Tup(), Map.of(), null);
    }

    // ---- what state dicts are made of ----

    @Test
    void stateDictAsTorchSaveWritesIt() throws Exception {
        TorchSave t = new TorchSave();
        TorchSave.Storage shared = t.storage(StorageType.FLOAT, new byte[40]);
        t.tensor("a", shared, 0, 2, 3).tensor("b", shared, 6, 4).tensor("c", StorageType.BFLOAT16, new byte[6], 3)
                .moduleStateDict();
        Map<?, ?> dict = assertInstanceOf(Map.class, run(t.dataPkl()));
        assertEquals(List.of("a", "b", "c"), List.copyOf(dict.keySet()));
        TensorRef a = (TensorRef) dict.get("a");
        TensorRef b = (TensorRef) dict.get("b");
        TensorRef c = (TensorRef) dict.get("c");
        assertEquals(new StorageRef("0", TorchGlobal.FLOAT_STORAGE, 10), a.storage());
        assertSame(a.storage(), b.storage(), "one storage for both views");
        assertEquals(6, b.offset());
        assertArrayEquals(new long[] {2, 3}, a.size());
        assertArrayEquals(new long[] {3, 1}, a.stride());
        assertEquals(new StorageRef("1", TorchGlobal.BFLOAT16_STORAGE, 3), c.storage());
    }

    @Test
    void protocol4PickleOfCPython() throws Exception {
        Map<?, ?> dict = assertInstanceOf(Map.class, run(HexFormat.of().parseHex(PROTOCOL_4)));
        TensorRef w = (TensorRef) dict.get("w");
        TensorRef p = (TensorRef) dict.get("p");
        assertEquals(new StorageRef("0", TorchGlobal.FLOAT_STORAGE, 3), w.storage());
        assertSame(w.storage(), p.storage());
        assertArrayEquals(new long[] {2}, w.size());
        assertEquals(2, p.offset());
        assertArrayEquals(new long[] {1}, p.size());
    }

    @Test
    void scalarsAndContainersAsPythonPicklesThem() throws Exception {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("k", new ArrayList<>(List.of(1, 2)));
        inner.put("one", new ArrayList<>(List.of("x")));
        List<Object> values = new ArrayList<>(Arrays.asList(0, 255, 256, 65535, 65536, -1, Integer.MAX_VALUE,
                Integer.MIN_VALUE, 1L << 31, BigInteger.ONE.shiftLeft(63), Long.MIN_VALUE, 1.5, -0.0, true, false, null,
                "h\u00e9llo \u4e16\u754c", new Tup(), new Tup(1), new Tup(1, 2, 3), new Tup(1, 2, 3, 4), inner));
        String shared = "shared";
        values.add(shared);
        values.add(shared);
        List<?> out = assertInstanceOf(List.class, run(PickleWriter.dump(values)));
        assertEquals(Arrays.asList(0L, 255L, 256L, 65535L, 65536L, -1L, (long) Integer.MAX_VALUE,
                (long) Integer.MIN_VALUE, 1L << 31, BigInteger.ONE.shiftLeft(63), Long.MIN_VALUE, 1.5, -0.0, true, false,
                null, "h\u00e9llo \u4e16\u754c", PyTuple.of(), PyTuple.of(1L), PyTuple.of(1L, 2L, 3L),
                PyTuple.of(1L, 2L, 3L, 4L)), out.subList(0, 21));
        Map<?, ?> d = assertInstanceOf(Map.class, out.get(21));
        assertEquals(List.of(1L, 2L), d.get("k"));
        assertEquals(List.of("x"), d.get("one"));
        assertSame(out.get(22), out.get(23), "BINGET returns the memoized object");
    }

    /** Opcodes no protocol-2 pickler writes for state dicts, but that harmless pickles of other writers hold. */
    @Test
    void otherHarmlessOpcodes() throws Exception {
        PickleWriter w = new PickleWriter().op(0x80, 4).op(0x95, 40, 0, 0, 0, 0, 0, 0, 0) // PROTO 4, FRAME 40
                .op('(') // MARK
                .op('U', 2, 'a', 'b') // SHORT_BINSTRING
                .op('T').u32(1).op('c') // BINSTRING
                .op('C', 2, 7, 8) // SHORT_BINBYTES
                .op('B').u32(1).op(9) // BINBYTES
                .op(0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 'z') // BINUNICODE8
                .op(0x8e, 0, 0, 0, 0, 0, 0, 0, 0) // BINBYTES8 of 0 bytes
                .op('G', 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18) // BINFLOAT pi
                .op(0x8b).u32(2).op(0xff, 0x7f) // LONG4 32767
                .op(0x8a, 0) // LONG1 0
                .op('l') // LIST from the MARK
                .op(0x94) // MEMOIZE as 0
                .op('r').u32(300) // LONG_BINPUT 300
                .op('2', '0') // DUP, POP
                .op('(', 'K', 1, 'K', 2, 'd') // MARK 1 2 DICT
                .op('(', 'N', '1') // MARK None POP_MARK
                .op(0x86, '.'); // TUPLE2 of the list and the dict, STOP
        PyTuple t = assertInstanceOf(PyTuple.class, run(w.toByteArray()));
        List<?> list = assertInstanceOf(List.class, t.get(0));
        assertEquals("ab", list.get(0));
        assertEquals("c", list.get(1));
        assertArrayEquals(new byte[] {7, 8}, (byte[]) list.get(2));
        assertArrayEquals(new byte[] {9}, (byte[]) list.get(3));
        assertEquals("z", list.get(4));
        assertArrayEquals(new byte[0], (byte[]) list.get(5));
        assertEquals(Math.PI, list.get(6));
        assertEquals(32767L, list.get(7));
        assertEquals(0L, list.get(8));
        assertEquals(Map.of(1L, 2L), t.get(1));
        byte[] get = new PickleWriter().op(0x80, 2, ']', 'r').u32(300).op('0', 'j').u32(300).op('.').toByteArray();
        assertEquals(List.of(), run(get), "LONG_BINGET of a LONG_BINPUT");
    }

    @Test
    void bigIntegersTheLegacyMagicNumberNeeds() throws Exception {
        assertEquals(LegacyTorchFile.MAGIC_NUMBER, run(PickleWriter.dump(LegacyTorchFile.MAGIC_NUMBER)));
        refused(p2(ops(0x8a, 17).raw(new byte[17])), "LONG1 of 17 bytes is wider than any size or offset");
    }

    // ---- refusals ----

    static Stream<PickleOpcode> notRun() {
        return Stream.of(PickleOpcode.values()).filter(op -> !op.read);
    }

    @ParameterizedTest
    @MethodSource("notRun")
    void everyOpcodeItDoesNotRunIsRefusedByName(PickleOpcode op) {
        byte[] pickle = p2(ops(op.code, 'a', '\n', 'b', '\n', 0, 0, 0, 0));
        refused(pickle, "data.pkl at byte 2: opcode " + op.name() + " (0x", "not one arica runs");
    }

    @ParameterizedTest
    @ValueSource(ints = {0x00, 0x01, 0x41, 0x99, 0xfe, 0xff})
    void undefinedBytesAreUnknownOpcodes(int code) {
        refused(p2(ops(code)), "unknown opcode 0x" + String.format("%02x", code));
    }

    @ParameterizedTest
    @CsvSource({"os,system", "posix,system", "nt,system", "builtins,eval", "builtins,exec", "__builtin__,getattr",
        "builtins,getattr", "subprocess,Popen", "torch,load", "torch._utils,_rebuild_from_type_v2", "collections,defaultdict",
        "torch.storage,FloatStorage", "copyreg,_reconstructor"})
    void globalsOffTheAllowListAreRefused(String module, String name) {
        refused(p2(new PickleWriter().global(module, name)), "data.pkl at byte 2: asks for the global " + module + "."
                + name, "allow-list", "without importing or calling anything");
        byte[] stackGlobal = new PickleWriter().op(0x80, 4).op(0x8c, module.length()).raw(module.getBytes())
                .op(0x8c, name.length()).raw(name.getBytes()).op(0x93, '.').toByteArray();
        refused(stackGlobal, "asks for the global " + module + "." + name);
    }

    @Test
    void globalNamesAreBoundedAndShownOnOneLine() {
        refused(p2(new PickleWriter().op('c').raw("os".repeat(200).getBytes())), "not a line of at most 256 bytes");
        byte[] control = new PickleWriter().op(0x80, 4).op(0x8c, 3, 'o', '\r', 's').op(0x8c, 1, 'x', 0x93, '.')
                .toByteArray();
        refused(control, "o\\x0ds.x");
    }

    @Test
    void lyingLengthsAllocateNothing() {
        refused(p2(ops('X').u32(0xffffffffL)), "BINUNICODE needs 4294967295 bytes, but 1 are left");
        refused(p2(ops(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), "needs 18446744073709551615 bytes");
        refused(p2(ops(0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40)), "BINBYTES8 needs 4611686018427387904 bytes");
        refused(p2(ops('T').u32(-5)), "BINSTRING has a negative length -5");
        refused(p2(ops(0x8b).u32(Integer.MAX_VALUE)), "LONG4 of 2147483647 bytes is wider");
        refused(p2(ops(0x95, 0, 0, 0, 0, 0, 0, 1, 0)), "FRAME needs 281474976710656 bytes");
        refused(p2(ops('X', 1)), "BINUNICODE needs 4 bytes");
    }

    @Test
    void truncatedPicklesAndStops() {
        byte[] whole = PickleWriter.dump(List.of("abc", 1));
        refused(Arrays.copyOf(whole, whole.length - 1), "ends before an opcode");
        refused(p2(ops('N', 'N')), "STOP with 2 values");
        refused(p2(ops('(', 'N')), "STOP with 1 values and 1 open MARKs");
        refused(new PickleWriter().op(0x80, 6, 'N', '.').toByteArray(), "pickle protocol 6 is newer than 5");
        byte[] badUtf8 = new PickleWriter().op(0x80, 2, 'X').u32(1).op(0xc3, '.').toByteArray();
        refused(badUtf8, "BINUNICODE's string of 1 bytes is not valid UTF-8");
    }

    @Test
    void memoIndicesAreChecked() {
        refused(p2(ops('h', 3)), "BINGET of memo index 3, which was never stored");
        refused(p2(ops('N', 'q', 0, '0', 'j').u32(70000)), "LONG_BINGET of memo index 70000");
        refused(p2(ops('q', 0)), "BINPUT needs a value, but the stack is empty");
    }

    @Test
    void nestingIsBounded() throws Exception {
        PickleWriter deep = new PickleWriter().op(0x80, 2);
        for (int i = 0; i < PickleReader.MAX_MARK_DEPTH; i++) {
            deep.op('(');
        }
        deep.op('N');
        for (int i = 0; i < PickleReader.MAX_MARK_DEPTH; i++) {
            deep.op('t');
        }
        assertInstanceOf(PyTuple.class, run(deep.op('.').toByteArray()));
        PickleWriter tooDeep = new PickleWriter();
        for (int i = 0; i <= PickleReader.MAX_MARK_DEPTH; i++) {
            tooDeep.op('(');
        }
        refused(p2(tooDeep), "at byte " + (2 + PickleReader.MAX_MARK_DEPTH) + ": MARKs nested deeper than 64");
    }

    @Test
    void stackMisuseIsRefused() {
        refused(p2(ops(']', 'N', 'N', 's')), "SETITEM sets items of a list of 0, not a dict");
        refused(p2(ops('}', 'N', 'a')), "APPEND appends to a dict of 0, not a list");
        refused(p2(ops('(', '0')), "POP needs a value, but the stack is empty");
        refused(p2(ops('t')), "TUPLE without a MARK");
        refused(p2(ops('N', 0x86)), "TUPLE2 needs 2 values, but the stack holds 1");
        refused(p2(ops('}', '(', 'N', 'u')), "SETITEMS has 1 values: keys and values do not pair up");
        refused(p2(ops('}', 'K', 1, 'N', 's', 'K', 1, 'N', 's')), "key int 1 is set twice in one dict");
        refused(p2(ops('}', ')', 'N', 's')), "a dict key is a tuple of 0");
        refused(p2(new PickleWriter().unicode("os.system").op(')', 'R')), "REDUCE calls 'os.system', which is nothing "
                + "callable");
        refused(p2(new PickleWriter().save(ORDERED_DICT).op('N', 'R')), "REDUCE passes None to collections.OrderedDict");
        refused(p2(ops(')', '}', 'b')), "BUILD sets the state of a tuple of 0");
        refused(p2(ops('}', ')', 'b')), "to a tuple of 0: only the attributes of a dict are read");
    }

    @Test
    void allowListedGlobalsOnlyAsTheirMeaning() {
        refused(PickleWriter.dump(new Reduce(FLOAT_STORAGE, new Tup(), null, null)), "torch.FloatStorage is a storage "
                + "type, which only persistent ids name");
        refused(PickleWriter.dump(new Reduce(ORDERED_DICT, new Tup(1), null, null)), "collections.OrderedDict takes (), "
                + "given 1 arguments");
        refused(PickleWriter.dump(new Reduce(REBUILD, new Tup(1, 2, 3), null, null)), "_rebuild_tensor_v2 takes "
                + "(storage, storage_offset, size, stride, requires_grad, backward_hooks), given 3 arguments");
        Tup pid = new Tup("storage", FLOAT_STORAGE, "0", "cpu", 4);
        Map<String, Object> hook = new LinkedHashMap<>();
        hook.put("h", 1);
        refused(PickleWriter.dump(tensor(pid, 0, new Tup(4), new Tup(1), new Reduce(ORDERED_DICT, new Tup(), hook, null))),
                "backward_hooks is a dict of 1 entries: only an empty one is read");
        refused(PickleWriter.dump(tensor(pid, 0, new Tup(4), new Tup(1), null)), "backward_hooks is None");
        refused(PickleWriter.dump(tensor(pid, -1, new Tup(4), new Tup(1), emptyOrderedDict())),
                "storage_offset is int -1, not a non-negative int");
        refused(PickleWriter.dump(tensor(pid, 0, new Tup(4, 1), new Tup(1), emptyOrderedDict())), "has 2 sizes but 1 strides");
        refused(PickleWriter.dump(tensor(pid, 0, new Tup(-4), new Tup(1), emptyOrderedDict())), "size[0] is int -4");
        refused(PickleWriter.dump(new Reduce(REBUILD, new Tup("not a storage", 0, new Tup(), new Tup(), false,
                emptyOrderedDict()), null, null)), "_rebuild_tensor_v2's storage is 'not a storage'");
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("conj", true);
        refused(PickleWriter.dump(new Reduce(REBUILD, new Tup(new PersistentId(pid), 0, new Tup(4), new Tup(1), false,
                emptyOrderedDict(), metadata), null, null)), "tensor metadata is a dict of 1 entries");
        refused(PickleWriter.dump(new Reduce(new Global("torch._utils", "_rebuild_parameter"), new Tup(1, true,
                emptyOrderedDict()), null, null)), "_rebuild_parameter's data is int 1, not a tensor");
    }

    @Test
    void rebuildTensorOfOldPyTorchAndEmptyMetadata() throws Exception {
        Tup pid = new Tup("storage", FLOAT_STORAGE, "0", "cpu", 4);
        Object v1 = run(PickleWriter.dump(new Reduce(new Global("torch._utils", "_rebuild_tensor"),
                new Tup(new PersistentId(pid), 1, new Tup(3), new Tup(1)), null, null)));
        assertEquals(1, assertInstanceOf(TensorRef.class, v1).offset());
        Object withMetadata = run(PickleWriter.dump(new Reduce(REBUILD, new Tup(new PersistentId(pid), 0, new Tup(4),
                new Tup(1), true, emptyOrderedDict(), new LinkedHashMap<>()), null, null)));
        assertArrayEquals(new long[] {4}, assertInstanceOf(TensorRef.class, withMetadata).size());
    }

    @Test
    void persistentIdsAreChecked() {
        refused(p2(new PickleWriter().unicode("storage").op('Q')), "persistent id 'storage' is not ('storage', type, key, "
                + "location, numel)");
        refused(PickleWriter.dump(new PersistentId(new Tup("module", FLOAT_STORAGE, "0", "cpu", 4))),
                "persistent id a tuple of 5 is not");
        refused(PickleWriter.dump(new PersistentId(new Tup("storage", ORDERED_DICT, "0", "cpu", 4))),
                "storage type is collections.OrderedDict, not a storage type of the allow-list");
        refused(PickleWriter.dump(new PersistentId(new Tup("storage", FLOAT_STORAGE, 0, "cpu", 4))),
                "key and location are int 0 and 'cpu', not strings");
        refused(PickleWriter.dump(new PersistentId(new Tup("storage", FLOAT_STORAGE, "0", "cpu", -4))),
                "persistent id of storage '0' has int -4 elements");
        refused(PickleWriter.dump(new PersistentId(new Tup("storage", FLOAT_STORAGE, "0", "cpu", 4, new Tup("1", 0, 4)))),
                "is a view of another storage");
        Tup half = new Tup("storage", new Global("torch", "HalfStorage"), "0", "cpu", 4);
        Tup f32 = new Tup("storage", FLOAT_STORAGE, "0", "cpu", 4);
        refused(PickleWriter.dump(new Tup(new PersistentId(f32), new PersistentId(half))), "storage '0' is named as 4 of "
                + "torch.FloatStorage and as 4 of torch.HalfStorage");
    }

    @Test
    void legacyPersistentIdsWithoutViewsAreRead() throws Exception {
        Object v = run(PickleWriter.dump(new PersistentId(new Tup("storage", FLOAT_STORAGE, "7", "cuda:0", 4, null))));
        assertEquals(new StorageRef("7", TorchGlobal.FLOAT_STORAGE, 4), v);
    }
}
