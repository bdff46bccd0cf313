package dev.arica.runtime.tokenizer;

/**
 * UTF-8 to text as Rust's {@code String::from_utf8_lossy} and Python's {@code errors="replace"} do it: each
 * maximal ill-formed subpart (a lead byte and the continuation bytes valid after it) becomes one U+FFFD.
 * Java's own decoder groups some ill-formed bytes differently (e.g. ED A9), hence this class.
 */
final class Utf8Lossy {
    private Utf8Lossy() {}

    /**
     * Decodes {@code bytes[0, length)} into {@code out} and returns how many bytes were used: all of them,
     * except an unfinished character at the end, which waits for more bytes unless {@code end}.
     */
    static int decode(byte[] bytes, int length, boolean end, StringBuilder out) {
        return scan(bytes, length, end, out);
    }

    /** True when the bytes are complete, well-formed UTF-8. */
    static boolean valid(byte[] bytes, int length) {
        return scan(bytes, length, true, null) == length;
    }

    /** Decodes into {@code out}; with {@code out} null only checks, returning -1 at the first ill-formed byte. */
    private static int scan(byte[] bytes, int length, boolean end, StringBuilder out) {
        int i = 0;
        while (i < length) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                if (out != null) {
                    out.append((char) b0);
                }
                i++;
                continue;
            }
            int need;
            int lo = 0x80, hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                lo = b0 == 0xE0 ? 0xA0 : 0x80;
                hi = b0 == 0xED ? 0x9F : 0xBF;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                lo = b0 == 0xF0 ? 0x90 : 0x80;
                hi = b0 == 0xF4 ? 0x8F : 0xBF;
            } else {
                if (out == null) {
                    return -1;
                }
                out.append('\uFFFD');
                i++;
                continue;
            }
            int cp = b0 & (0x3F >> need);
            int j = i + 1;
            boolean broken = false;
            for (int k = 0; k < need; k++, j++) {
                if (j >= length) {
                    if (!end) {
                        return i;
                    }
                    broken = true;
                    break;
                }
                int b = bytes[j] & 0xFF;
                // Only the first continuation byte has a narrower range.
                if (b < (k == 0 ? lo : 0x80) || b > (k == 0 ? hi : 0xBF)) {
                    broken = true;
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
            }
            if (out == null) {
                if (broken) {
                    return -1;
                }
            } else if (broken) {
                out.append('\uFFFD');
            } else {
                out.appendCodePoint(cp);
            }
            i = j;
        }
        return length;
    }
}
