package dev.arica.formats.quant;

import java.util.Locale;
import java.util.Optional;

/**
 * Quantization schemes and their block geometry. Every scheme quantizes a 2-D weight [rows, cols] along
 * its last axis in groups; a row whose length is not a multiple of the group size is padded with zeros
 * up to the next group (the padding takes part in no scale and is dropped on dequantization).
 *
 * <p>Stored layout, row after row; the bytes of a row are described once, by its {@link RowGeometry}
 * ({@link QuantLayout#geometry(long)}):
 * <ul>
 *   <li>{@link #Q8_0}: GGML blocks of 34 bytes, fp16 scale d then 32 int8 codes ({@link Q8_0Row}).</li>
 *   <li>{@link #Q4_0}: GGML blocks of 18 bytes, fp16 scale d then 32 nibbles, codes offset by 8
 *       ({@link Q4_0Row}).</li>
 *   <li>{@link #INT8}, {@link #INT4}: ONNX Runtime MatMulNBits order, the codes of every group, then one
 *       fp16 scale per group, then, when asymmetric, packed zero points ({@link IntRow}).</li>
 * </ul>
 */
public enum Scheme {
    Q8_0(8, GgmlRow.GROUP, GgmlRow.GROUP, false),
    Q4_0(4, GgmlRow.GROUP, GgmlRow.GROUP, false),
    INT8(8, 0, 128, true),
    INT4(4, 0, 32, true);

    public static final int MIN_GROUP = 16;
    public static final int MAX_GROUP = 256;

    private final int bits;
    private final int fixedGroup;
    private final int defaultGroup;
    private final boolean allowsAsymmetric;

    Scheme(int bits, int fixedGroup, int defaultGroup, boolean allowsAsymmetric) {
        this.bits = bits;
        this.fixedGroup = fixedGroup;
        this.defaultGroup = defaultGroup;
        this.allowsAsymmetric = allowsAsymmetric;
    }

    public int bits() {
        return bits;
    }

    /** The group size this scheme always uses, or 0 when it is configurable. */
    public int fixedGroup() {
        return fixedGroup;
    }

    public int defaultGroup() {
        return defaultGroup;
    }

    public boolean allowsAsymmetric() {
        return allowsAsymmetric;
    }

    /** The name used on the command line and in files: "q8_0", "int4". */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Scheme> parse(String id) {
        for (Scheme s : values()) {
            if (s.id().equalsIgnoreCase(id)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }
}
