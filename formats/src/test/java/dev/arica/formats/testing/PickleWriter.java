package dev.arica.formats.testing;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes pickles as CPython's pickler does at protocol 2, the protocol torch.save uses: the same opcode for each
 * value, the same memo (BINPUT after each string, tuple, dict, global and reduced object, BINGET when the same object
 * comes again, by identity as Python's id()), the same batching of SETITEMS and APPENDS. Independent of the reader
 * under test; raw opcodes can be written too, for pickles no pickler would produce.
 *
 * <p>Values: null, Boolean, Integer/Long/BigInteger, Double, String, {@link Tup}, {@link Global}, {@link Reduce},
 * {@link PersistentId}, Map (a dict, in its order) and List.
 */
public final class PickleWriter {

    /** A tuple; its identity is the Python object's. */
    public record Tup(Object... items) {}

    /** A class or function, pickled by module and name; one object per name, as in Python. */
    public record Global(String module, String name) {}

    /**
     * An object that reduces to {@code callable(*args)}, then gets {@code items} set (may be empty) and its state
     * applied with BUILD (null for none), as {@code __reduce__} returns them.
     */
    public record Reduce(Global callable, Tup args, Map<?, ?> items, Object state) {}

    /** A value the pickler's persistent_id replaces by {@code pid}. */
    public record PersistentId(Tup pid) {}

    private static final int BATCH = 1000;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Map<Object, Integer> memo = new IdentityHashMap<>();
    private final Map<Global, Integer> globals = new HashMap<>();
    /** The next memo index: Python's len(memo). */
    private int next;

    /** {@code value} pickled at protocol 2 from a fresh pickler: PROTO 2, the value, STOP. */
    public static byte[] dump(Object value) {
        PickleWriter w = new PickleWriter();
        w.op(0x80, 2);
        w.save(value);
        return w.op('.').toByteArray();
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }

    // ---- raw writing ----

    /** Writes bytes as they are: opcodes and their arguments. */
    public PickleWriter op(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }

    public PickleWriter raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    /** GLOBAL module name, without the memo. */
    public PickleWriter global(String module, String name) {
        op('c');
        raw((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** BINUNICODE s, without the memo. */
    public PickleWriter unicode(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        u32(b.length);
        return raw(b);
    }

    public PickleWriter u32(long v) {
        return op((int) v & 0xff, (int) (v >>> 8) & 0xff, (int) (v >>> 16) & 0xff, (int) (v >>> 24) & 0xff);
    }

    // ---- the pickler ----

    /** Writes {@code value} as Python's pickler saves it. */
    public PickleWriter save(Object value) {
        switch (value) {
            case null -> op('N');
            case PersistentId p -> {
                save(p.pid());
                op('Q');
            }
            case Boolean b -> op(b ? 0x88 : 0x89);
            case Integer i -> saveInt(BigInteger.valueOf(i));
            case Long l -> saveInt(BigInteger.valueOf(l));
            case BigInteger n -> saveInt(n);
            case Double d -> {
                op('G');
                long bits = Double.doubleToLongBits(d);
                for (int s = 56; s >= 0; s -= 8) {
                    op((int) (bits >>> s) & 0xff);
                }
            }
            case Global g -> {
                if (globals.containsKey(g)) {
                    get(globals.get(g));
                } else {
                    global(g.module(), g.name());
                    globals.put(g, next);
                    put(next++);
                }
            }
            default -> saveObject(value);
        }
        return this;
    }

    private void saveObject(Object value) {
        if (memo.containsKey(value)) {
            get(memo.get(value));
            return;
        }
        switch (value) {
            case String s -> {
                unicode(s);
                memoize(s);
            }
            case Tup t -> saveTuple(t);
            case Map<?, ?> m -> {
                op('}');
                memoize(m);
                setItems(m);
            }
            case List<?> l -> {
                op(']');
                memoize(l);
                appends(l);
            }
            case Reduce r -> {
                save(r.callable());
                save(r.args());
                op('R');
                memoize(r);
                if (r.items() != null) {
                    setItems(r.items());
                }
                if (r.state() != null) {
                    save(r.state());
                    op('b');
                }
            }
            default -> throw new IllegalArgumentException("cannot pickle " + value.getClass());
        }
    }

    private void saveTuple(Tup t) {
        Object[] items = t.items();
        if (items.length == 0) {
            op(')');
            return;
        }
        if (items.length <= 3) {
            for (Object o : items) {
                save(o);
            }
            op(0x84 + items.length);
        } else {
            op('(');
            for (Object o : items) {
                save(o);
            }
            op('t');
        }
        memoize(t);
    }

    /** BININT1, BININT2, BININT, else LONG1 of the shortest two's complement, as save_long chooses. */
    private void saveInt(BigInteger n) {
        if (n.signum() >= 0 && n.bitLength() <= 8) {
            op('K', n.intValue());
        } else if (n.signum() >= 0 && n.bitLength() <= 16) {
            op('M', n.intValue() & 0xff, n.intValue() >>> 8);
        } else if (n.bitLength() <= 31) {
            op('J');
            u32(n.intValue());
        } else {
            byte[] be = n.toByteArray();
            op(0x8a, be.length);
            for (int i = be.length - 1; i >= 0; i--) {
                op(be[i] & 0xff);
            }
        }
    }

    private void setItems(Map<?, ?> m) {
        List<? extends Map.Entry<?, ?>> entries = List.copyOf(m.entrySet());
        for (int from = 0; from < entries.size(); from += BATCH) {
            List<? extends Map.Entry<?, ?>> batch = entries.subList(from, Math.min(entries.size(), from + BATCH));
            if (batch.size() > 1) {
                op('(');
            }
            for (Map.Entry<?, ?> e : batch) {
                save(e.getKey());
                save(e.getValue());
            }
            op(batch.size() > 1 ? 'u' : 's');
        }
    }

    private void appends(List<?> l) {
        for (int from = 0; from < l.size(); from += BATCH) {
            List<?> batch = l.subList(from, Math.min(l.size(), from + BATCH));
            if (batch.size() > 1) {
                op('(');
            }
            for (Object o : batch) {
                save(o);
            }
            op(batch.size() > 1 ? 'e' : 'a');
        }
    }

    private void memoize(Object value) {
        memo.put(value, next);
        put(next++);
    }

    private void put(int index) {
        if (index < 256) {
            op('q', index);
        } else {
            op('r');
            u32(index);
        }
    }

    private void get(int index) {
        if (index < 256) {
            op('h', index);
        } else {
            op('j');
            u32(index);
        }
    }
}
