package dev.arica.formats.pytorch;

/**
 * Every opcode of the pickle protocols 0 to 5 (CPython's pickletools), with whether {@link PickleReader} runs
 * it: the binary opcodes that state dicts use, and none that creates objects of arbitrary classes.
 */
enum PickleOpcode {
    INT(0x49, false),
    BININT(0x4a, true),
    BININT1(0x4b, true),
    BININT2(0x4d, true),
    LONG(0x4c, false),
    LONG1(0x8a, true),
    LONG4(0x8b, true),
    STRING(0x53, false),
    BINSTRING(0x54, true),
    SHORT_BINSTRING(0x55, true),
    BINBYTES(0x42, true),
    SHORT_BINBYTES(0x43, true),
    BINBYTES8(0x8e, true),
    BYTEARRAY8(0x96, false),
    NEXT_BUFFER(0x97, false),
    READONLY_BUFFER(0x98, false),
    NONE(0x4e, true),
    NEWTRUE(0x88, true),
    NEWFALSE(0x89, true),
    UNICODE(0x56, false),
    SHORT_BINUNICODE(0x8c, true),
    BINUNICODE(0x58, true),
    BINUNICODE8(0x8d, true),
    FLOAT(0x46, false),
    BINFLOAT(0x47, true),
    EMPTY_LIST(0x5d, true),
    APPEND(0x61, true),
    APPENDS(0x65, true),
    LIST(0x6c, true),
    EMPTY_TUPLE(0x29, true),
    TUPLE(0x74, true),
    TUPLE1(0x85, true),
    TUPLE2(0x86, true),
    TUPLE3(0x87, true),
    EMPTY_DICT(0x7d, true),
    DICT(0x64, true),
    SETITEM(0x73, true),
    SETITEMS(0x75, true),
    EMPTY_SET(0x8f, false),
    ADDITEMS(0x90, false),
    FROZENSET(0x91, false),
    POP(0x30, true),
    DUP(0x32, true),
    MARK(0x28, true),
    POP_MARK(0x31, true),
    GET(0x67, false),
    BINGET(0x68, true),
    LONG_BINGET(0x6a, true),
    PUT(0x70, false),
    BINPUT(0x71, true),
    LONG_BINPUT(0x72, true),
    MEMOIZE(0x94, true),
    EXT1(0x82, false),
    EXT2(0x83, false),
    EXT4(0x84, false),
    GLOBAL(0x63, true),
    STACK_GLOBAL(0x93, true),
    REDUCE(0x52, true),
    BUILD(0x62, true),
    INST(0x69, false),
    OBJ(0x6f, false),
    NEWOBJ(0x81, false),
    NEWOBJ_EX(0x92, false),
    PROTO(0x80, true),
    STOP(0x2e, true),
    FRAME(0x95, true),
    PERSID(0x50, false),
    BINPERSID(0x51, true);

    private static final PickleOpcode[] BY_CODE = new PickleOpcode[256];

    static {
        for (PickleOpcode op : values()) {
            BY_CODE[op.code] = op;
        }
    }

    final int code;
    /** Whether the reader runs it; the others are refused by name. */
    final boolean read;

    PickleOpcode(int code, boolean read) {
        this.code = code;
        this.read = read;
    }

    /** The opcode of {@code code} (0..255), or null when no protocol defines it. */
    static PickleOpcode of(int code) {
        return BY_CODE[code];
    }

    /** How messages name it, e.g. {@code NEWOBJ (0x81)}. */
    String label() {
        return name() + " (0x" + String.format("%02x", code) + ")";
    }
}
