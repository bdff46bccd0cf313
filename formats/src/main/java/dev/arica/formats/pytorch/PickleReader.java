package dev.arica.formats.pytorch;

import dev.arica.formats.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one pickle as an interpreter of the opcodes state dicts use ({@link PickleOpcode#read}). It never imports,
 * instantiates or calls anything: a GLOBAL resolves to a {@link TorchGlobal} of the allow-list or is refused, a
 * REDUCE applies that global's meaning written in Java, and persistent ids become {@link StorageRef}s. Every
 * length is checked against the bytes left before anything is allocated, so the work and memory are bounded by
 * the pickle's size; nesting is bounded by {@link #MAX_MARK_DEPTH}.
 *
 * <p>Values: None is null, bools are Boolean, ints Long (BigInteger when wider), floats Double, str String, bytes
 * byte[], tuples {@link PyTuple}, lists ArrayList, dicts and OrderedDicts LinkedHashMap.
 */
final class PickleReader {

    /** Deepest nesting of MARKs; a state dict needs three. */
    static final int MAX_MARK_DEPTH = 64;
    static final int HIGHEST_PROTOCOL = 5;
    /** Longest module or name of a GLOBAL. */
    private static final int MAX_NAME_BYTES = 256;
    /** Widest int: sizes and offsets need 8 bytes, PyTorch's legacy magic number 10. */
    private static final int MAX_INT_BYTES = 16;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong F64_BITS = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** The value a pickle built and the position just after its STOP. */
    record Result(Object value, long end) {}

    private final MemorySegment bytes;
    private final Map<String, StorageRef> storages;
    private final List<Object> stack = new ArrayList<>();
    /** Stack sizes at each open MARK. */
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long pos;
    /** Where the opcode being run starts, for messages. */
    private long opStart;
    private PickleOpcode op;

    private PickleReader(MemorySegment bytes, long start, Map<String, StorageRef> storages) {
        this.bytes = bytes;
        this.pos = start;
        this.storages = storages;
    }

    /**
     * Runs the pickle that starts at {@code start} of {@code bytes} up to its STOP.
     *
     * @param pickle how messages name the pickle, e.g. "data.pkl"
     * @param storages the storages named so far, by key; persistent ids add to it and must agree with it
     */
    static Result read(Path file, String pickle, MemorySegment bytes, long start, Map<String, StorageRef> storages)
            throws FormatException {
        PickleReader r = new PickleReader(bytes, start, storages);
        try {
            return r.run();
        } catch (PickleFault f) {
            throw new FormatException(file, pickle + " at byte " + r.opStart + ": " + f.getMessage());
        }
    }

    private Result run() {
        while (true) {
            opStart = pos;
            int code = u8("an opcode");
            op = PickleOpcode.of(code);
            if (op == null) {
                throw new PickleFault("unknown opcode 0x" + String.format("%02x", code));
            }
            if (!op.read) {
                throw new PickleFault("opcode " + op.label() + " is not one arica runs (state dicts do not use it)");
            }
            switch (op) {
                case PROTO -> {
                    int v = u8("the protocol");
                    if (v > HIGHEST_PROTOCOL) {
                        throw new PickleFault("pickle protocol " + v + " is newer than " + HIGHEST_PROTOCOL);
                    }
                }
                case FRAME -> need(u64());
                case STOP -> {
                    if (!marks.isEmpty() || stack.size() != 1) {
                        throw new PickleFault("STOP with " + stack.size() + " values and " + marks.size()
                                + " open MARKs, instead of one value");
                    }
                    return new Result(stack.getFirst(), pos);
                }
                case MARK -> {
                    if (marks.size() >= MAX_MARK_DEPTH) {
                        throw new PickleFault("MARKs nested deeper than " + MAX_MARK_DEPTH);
                    }
                    marks.add(stack.size());
                }
                case POP -> pop();
                case POP_MARK -> popMark();
                case DUP -> push(peek());
                case NONE -> push(null);
                case NEWTRUE -> push(Boolean.TRUE);
                case NEWFALSE -> push(Boolean.FALSE);
                case BININT -> push((long) i32());
                case BININT1 -> push((long) u8("BININT1's value"));
                case BININT2 -> push((long) u16());
                case LONG1 -> push(integer(u8("LONG1's length")));
                case LONG4 -> push(integer(nonNegative(i32())));
                case BINFLOAT -> {
                    need(8);
                    push(Double.longBitsToDouble(bytes.get(F64_BITS, pos)));
                    pos += 8;
                }
                case BINUNICODE -> push(text(u32()));
                case SHORT_BINUNICODE, SHORT_BINSTRING -> push(text(u8("the length")));
                case BINUNICODE8 -> push(text(u64()));
                case BINSTRING -> push(text(nonNegative(i32())));
                case BINBYTES -> push(raw(u32()));
                case SHORT_BINBYTES -> push(raw(u8("the length")));
                case BINBYTES8 -> push(raw(u64()));
                case EMPTY_TUPLE -> push(PyTuple.of());
                case TUPLE1 -> push(new PyTuple(popN(1)));
                case TUPLE2 -> push(new PyTuple(popN(2)));
                case TUPLE3 -> push(new PyTuple(popN(3)));
                case TUPLE -> push(new PyTuple(popMark()));
                case EMPTY_LIST -> push(new ArrayList<>());
                case LIST -> push(new ArrayList<>(popMark()));
                case APPEND -> {
                    Object v = pop();
                    list(peek()).add(v);
                }
                case APPENDS -> {
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                case EMPTY_DICT -> push(new LinkedHashMap<>());
                case DICT -> {
                    Map<Object, Object> d = new LinkedHashMap<>();
                    putAll(d, popMark());
                    push(d);
                }
                case SETITEM -> {
                    Object v = pop();
                    Object k = pop();
                    put(dict(peek()), k, v);
                }
                case SETITEMS -> {
                    List<Object> items = popMark();
                    putAll(dict(peek()), items);
                }
                case BINPUT -> memo.put((long) u8("the memo index"), peek());
                case LONG_BINPUT -> memo.put(u32(), peek());
                case MEMOIZE -> memo.put((long) memo.size(), peek());
                case BINGET -> push(memoGet(u8("the memo index")));
                case LONG_BINGET -> push(memoGet(u32()));
                case GLOBAL -> {
                    String module = line();
                    push(global(module, line()));
                }
                case STACK_GLOBAL -> {
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw new PickleFault("STACK_GLOBAL's module and name are " + describe(module) + " and "
                                + describe(name) + ", not strings");
                    }
                    push(global(m, n));
                }
                case REDUCE -> {
                    Object args = pop();
                    Object callable = pop();
                    if (!(callable instanceof TorchGlobal g)) {
                        throw new PickleFault("REDUCE calls " + describe(callable) + ", which is nothing callable");
                    }
                    if (!(args instanceof PyTuple t)) {
                        throw new PickleFault("REDUCE passes " + describe(args) + " to " + g.qualifiedName()
                                + " instead of a tuple of arguments");
                    }
                    push(g.call(t));
                }
                case BUILD -> {
                    Object state = pop();
                    Object target = peek();
                    // An OrderedDict's attributes (a state dict's _metadata) are not tensors: checked, then dropped.
                    if (!(target instanceof Map<?, ?>) || !(state instanceof Map<?, ?>)) {
                        throw new PickleFault("BUILD sets the state of " + describe(target) + " to " + describe(state)
                                + ": only the attributes of a dict are read");
                    }
                }
                case BINPERSID -> push(storage(pop()));
                default -> throw new IllegalStateException("opcode " + op + " is marked read but not run");
            }
        }
    }

    // ---- the stack ----

    private void push(Object v) {
        stack.add(v);
    }

    /** Values above the innermost MARK belong to it; below it nothing may be popped. */
    private int base() {
        return marks.isEmpty() ? 0 : marks.getLast();
    }

    private Object peek() {
        if (stack.size() <= base()) {
            throw new PickleFault(op.name() + " needs a value, but the stack is empty");
        }
        return stack.getLast();
    }

    private Object pop() {
        Object v = peek();
        stack.removeLast();
        return v;
    }

    private List<Object> popN(int n) {
        if (stack.size() - base() < n) {
            throw new PickleFault(op.name() + " needs " + n + " values, but the stack holds " + (stack.size() - base()));
        }
        List<Object> top = stack.subList(stack.size() - n, stack.size());
        List<Object> out = new ArrayList<>(top);
        top.clear();
        return out;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw new PickleFault(op.name() + " without a MARK");
        }
        return popN(stack.size() - marks.removeLast());
    }

    private Object memoGet(long index) {
        Object v = memo.get(index);
        if (v == null && !memo.containsKey(index)) {
            throw new PickleFault(op.name() + " of memo index " + index + ", which was never stored");
        }
        return v;
    }

    // ---- containers ----

    @SuppressWarnings("unchecked")
    private List<Object> list(Object v) {
        if (!(v instanceof ArrayList<?>)) {
            throw new PickleFault(op.name() + " appends to " + describe(v) + ", not a list");
        }
        return (List<Object>) v;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object v) {
        if (!(v instanceof Map<?, ?>)) {
            throw new PickleFault(op.name() + " sets items of " + describe(v) + ", not a dict");
        }
        return (Map<Object, Object>) v;
    }

    private void putAll(Map<Object, Object> d, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw new PickleFault(op.name() + " has " + items.size() + " values: keys and values do not pair up");
        }
        for (int i = 0; i < items.size(); i += 2) {
            put(d, items.get(i), items.get(i + 1));
        }
    }

    /** Keys are scalars, so hashing them never walks a structure; a key set twice is a forged dict. */
    private void put(Map<Object, Object> d, Object key, Object value) {
        if (!(key == null || key instanceof String || key instanceof Long || key instanceof BigInteger
                || key instanceof Boolean || key instanceof Double)) {
            throw new PickleFault("a dict key is " + describe(key) + ": only str, int, float, bool and None are read");
        }
        if (d.containsKey(key)) {
            throw new PickleFault("key " + describe(key) + " is set twice in one dict");
        }
        d.put(key, value);
    }

    // ---- globals and persistent ids ----

    private static TorchGlobal global(String module, String name) {
        return TorchGlobal.find(module, name).orElseThrow(() -> new PickleFault("asks for the global "
                + printable(module + "." + name) + ", which is not on arica's allow-list of state-dict constructors: "
                + "refused without importing or calling anything"));
    }

    private StorageRef storage(Object pid) {
        if (!(pid instanceof PyTuple t) || (t.size() != 5 && t.size() != 6) || !"storage".equals(t.get(0))) {
            throw new PickleFault("persistent id " + describe(pid) + " is not ('storage', type, key, location, numel)");
        }
        if (!(t.get(1) instanceof TorchGlobal type) || !type.isStorage()) {
            throw new PickleFault("persistent id's storage type is " + describe(t.get(1)) + ", not a storage type of "
                    + "the allow-list");
        }
        if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String)) {
            throw new PickleFault("persistent id's key and location are " + describe(t.get(2)) + " and "
                    + describe(t.get(3)) + ", not strings");
        }
        if (!(t.get(4) instanceof Long numel) || numel < 0) {
            throw new PickleFault("persistent id of storage " + describe(key) + " has " + describe(t.get(4))
                    + " elements, not a non-negative int");
        }
        if (t.size() == 6 && t.get(5) != null) {
            throw new PickleFault("persistent id of storage " + describe(key) + " is a view of another storage "
                    + "(PyTorch before 1.0): not read");
        }
        StorageRef ref = new StorageRef(key, type, numel);
        StorageRef seen = storages.putIfAbsent(key, ref);
        if (seen != null && !seen.equals(ref)) {
            throw new PickleFault("storage " + describe(key) + " is named as " + seen.numel() + " of "
                    + seen.type().qualifiedName() + " and as " + numel + " of " + type.qualifiedName());
        }
        return seen != null ? seen : ref;
    }

    // ---- arguments ----

    /** Checks that {@code n} bytes (unsigned) are left. */
    private void need(long n) {
        if (Long.compareUnsigned(n, bytes.byteSize() - pos) > 0) {
            throw new PickleFault(op.name() + " needs " + Long.toUnsignedString(n) + " bytes, but "
                    + (bytes.byteSize() - pos) + " are left (truncated, or a lying length)");
        }
    }

    private int u8(String what) {
        if (pos >= bytes.byteSize()) {
            throw new PickleFault("the pickle ends before " + what + " (truncated, or no STOP)");
        }
        return Byte.toUnsignedInt(bytes.get(ValueLayout.JAVA_BYTE, pos++));
    }

    private int u16() {
        need(2);
        int v = Short.toUnsignedInt(bytes.get(U16, pos));
        pos += 2;
        return v;
    }

    private int i32() {
        need(4);
        int v = bytes.get(I32, pos);
        pos += 4;
        return v;
    }

    private long u32() {
        return Integer.toUnsignedLong(i32());
    }

    /** An unsigned 64-bit length, as {@link #need} compares it. */
    private long u64() {
        need(8);
        long v = bytes.get(I64, pos);
        pos += 8;
        return v;
    }

    private long nonNegative(int n) {
        if (n < 0) {
            throw new PickleFault(op.name() + " has a negative length " + n);
        }
        return n;
    }

    /** A length read from the pickle, checked against the bytes left before anything that size exists. */
    private int length(long n) {
        need(n);
        if (n > Integer.MAX_VALUE - 8) {
            throw new PickleFault(op.name() + " of " + n + " bytes is longer than arica reads");
        }
        return (int) n;
    }

    private Object integer(long n) {
        if (n > MAX_INT_BYTES) {
            throw new PickleFault(op.name() + " of " + n + " bytes is wider than any size or offset");
        }
        byte[] le = raw(n);
        if (le.length == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private byte[] raw(long n) {
        int len = length(n);
        byte[] out = new byte[len];
        MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, pos, out, 0, len);
        pos += len;
        return out;
    }

    private String text(long n) {
        byte[] b = raw(n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new PickleFault(op.name() + "'s string of " + b.length + " bytes is not valid UTF-8");
        }
    }

    /** A GLOBAL's module or name: text up to a newline, at most {@link #MAX_NAME_BYTES}. */
    private String line() {
        long limit = Math.min(bytes.byteSize(), pos + MAX_NAME_BYTES + 1);
        for (long i = pos; i < limit; i++) {
            if (bytes.get(ValueLayout.JAVA_BYTE, i) == '\n') {
                String s = text(i - pos);
                pos++;
                return s;
            }
        }
        throw new PickleFault("GLOBAL's module or name is not a line of at most " + MAX_NAME_BYTES + " bytes");
    }

    // ---- messages ----

    /** A value as messages show it: its type, and its value when short. */
    static String describe(Object v) {
        return switch (v) {
            case null -> "None";
            case Boolean b -> b ? "True" : "False";
            case Long n -> "int " + n;
            case BigInteger n -> "int " + n;
            case Double d -> "float " + d;
            case String s -> "'" + printable(s.length() > 80 ? s.substring(0, 80) + "..." : s) + "'";
            case byte[] b -> "bytes of length " + b.length;
            case PyTuple t -> "a tuple of " + t.size();
            case List<?> l -> "a list of " + l.size();
            case Map<?, ?> m -> "a dict of " + m.size();
            case TorchGlobal g -> g.qualifiedName();
            case StorageRef s -> "storage '" + printable(s.key()) + "'";
            case TensorRef _ -> "a tensor";
            default -> v.getClass().getSimpleName();
        };
    }

    /** {@code s} with control characters escaped, so that a message stays one readable line. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
