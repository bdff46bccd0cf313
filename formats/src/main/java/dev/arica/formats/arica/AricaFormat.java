package dev.arica.formats.arica;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Constants of the .arica layout; see docs/arica-format.md. */
final class AricaFormat {
    static final byte[] MAGIC = {0x41, 0x52, 0x49, 0x43, 0x41, 0x00, 0x0D, 0x0A};
    static final byte[] END_MAGIC = {0x41, 0x52, 0x49, 0x43, 0x41, 0x45, 0x4E, 0x44};
    static final int MAJOR = 1;
    static final int MINOR = 0;
    /** The major version of files with transposed tensors: version 1 readers, which ignore unknown keys, refuse them. */
    static final int MAJOR_TRANSPOSED = 2;
    /** The major version of files with permuted tensors: version 2 readers would read their columns out of order. */
    static final int MAJOR_PERMUTED = 3;
    /** The newest major version this code reads. */
    static final int NEWEST = MAJOR_PERMUTED;
    static final int HEADER_BYTES = 64;
    static final int TRAILER_BYTES = 64;
    static final int ALIGNMENT = 64;
    static final long MAX_INDEX_BYTES = 256L << 20;
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private AricaFormat() {}

    static long align(long offset) {
        return (offset + ALIGNMENT - 1) & -(long) ALIGNMENT;
    }
}
