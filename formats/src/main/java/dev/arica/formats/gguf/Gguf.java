package dev.arica.formats.gguf;

/**
 * The fixed facts of the GGUF container (ggml's docs/gguf.md): a header of magic, version, tensor count and
 * metadata count; the metadata key/values; the tensor infos; padding to the alignment; the data section, every
 * tensor's offset counted from its start and a multiple of the alignment. Little-endian only.
 */
public final class Gguf {
    /** "GGUF" read as a little-endian uint32. */
    public static final int MAGIC = 0x46554747;
    /** Bytes of magic, version, tensor count and metadata count. */
    public static final int HEADER_BYTES = 4 + 4 + 8 + 8;
    /** Version 1 had 32-bit counts and lengths and is not read; 2 and 3 share one layout (3 allowed big-endian). */
    public static final int MIN_VERSION = 2;
    public static final int MAX_VERSION = 3;
    /** The version written by current GGML. */
    public static final int VERSION = 3;
    /** Alignment of the data section and of every tensor in it when {@link GgufKeys#ALIGNMENT} is absent. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** GGML tensors have at most four dimensions. */
    public static final int MAX_DIMS = 4;
    /** Longest tensor name GGML accepts (GGML_MAX_NAME, terminator excluded). */
    public static final int MAX_NAME_BYTES = 63;

    private Gguf() {}

    /** {@code offset} rounded up to a multiple of {@code alignment}. */
    public static long align(long offset, long alignment) {
        return Math.ceilDiv(offset, alignment) * alignment;
    }
}
