package dev.arica.formats.arica;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import java.util.Arrays;

/**
 * One tensor of an .arica file: its logical description, how it is stored, and where.
 *
 * @param dtype the source element type (what dequantization restores)
 * @param length stored bytes (compressed size when compressed)
 * @param rawLength bytes of the stored representation before compression
 * @param zstdLevel compression level, 0 when uncompressed
 */
public record AricaEntry(String name, DType dtype, long[] shape, Storage storage, long offset, long length,
        long rawLength, long crc32c, boolean compressed, int zstdLevel) {

    /** The logical tensor: name, source dtype, shape. */
    public TensorInfo info() {
        return new TensorInfo(name, dtype, shape);
    }

    public boolean quantized() {
        return storage instanceof Storage.Quantized;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AricaEntry e && name.equals(e.name) && dtype == e.dtype && Arrays.equals(shape, e.shape)
                && storage.equals(e.storage) && offset == e.offset && length == e.length && rawLength == e.rawLength
                && crc32c == e.crc32c && compressed == e.compressed && zstdLevel == e.zstdLevel;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Long.hashCode(offset);
    }

    @Override
    public String toString() {
        return name + " " + storage.id() + Arrays.toString(shape) + " @" + offset + "+" + length;
    }
}
