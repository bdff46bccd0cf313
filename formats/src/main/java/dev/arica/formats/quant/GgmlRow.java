package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;

/**
 * A row of GGML blocks: group g of {@link #GROUP} values is the block at byte {@code g * block bytes}, its fp16
 * scale d at {@link #SCALE} and its codes from {@link #CODES}; the last block is padded.
 */
public abstract sealed class GgmlRow implements RowGeometry permits Q8_0Row, Q4_0Row {
    /** Values in a block. */
    public static final int GROUP = 32;
    /** Offset in a block of its fp16 scale d. */
    public static final int SCALE = 0;
    /** Offset in a block of its first code byte. */
    public static final int CODES = 2;

    private final long groups;
    private final int blockBytes;

    GgmlRow(long cols, int blockBytes) {
        if (cols < 0) {
            throw new IllegalArgumentException("negative row length " + cols);
        }
        this.groups = Math.ceilDiv(cols, GROUP);
        this.blockBytes = blockBytes;
    }

    /** The fp16 bits of the scale of the block at byte {@code block} of {@code s}. */
    public static short d(MemorySegment s, long block) {
        return s.get(F16, block + SCALE);
    }

    /** Writes the fp16 bits of the scale of the block at byte {@code block} of {@code s}. */
    public static void putD(MemorySegment s, long block, short d) {
        s.set(F16, block + SCALE, d);
    }

    @Override
    public int groupSize() {
        return GROUP;
    }

    @Override
    public long groups() {
        return groups;
    }

    @Override
    public long rowBytes() {
        return groups * blockBytes;
    }

    /** Offset in the row of block {@code group}. */
    public long blockAt(long group) {
        return group * blockBytes;
    }

    @Override
    public long scaleAt(long group) {
        return blockAt(group) + SCALE;
    }

    @Override
    public long codesAt(long group) {
        return blockAt(group) + CODES;
    }

    @Override
    public void codes(MemorySegment s, long row, long group, int[] out) {
        blockCodes(s, row + blockAt(group), out);
    }

    /** The unsigned codes of the block at byte {@code block} of {@code s}, element j into {@code out[j]}. */
    abstract void blockCodes(MemorySegment s, long block, int[] out);
}
