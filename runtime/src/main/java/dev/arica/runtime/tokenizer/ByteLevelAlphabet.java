package dev.arica.runtime.tokenizer;

/**
 * GPT-2's byte-to-character map used by byte-level BPE: printable Latin-1 bytes ('!'..'~', '¡'..'¬',
 * '®'..'ÿ') stand for themselves, the other 68 bytes for U+0100 onwards in byte order.
 */
final class ByteLevelAlphabet {
    private static final char[] CHAR_OF_BYTE = new char[256];
    private static final int[] BYTE_OF_CHAR = new int[512];

    static {
        java.util.Arrays.fill(BYTE_OF_CHAR, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            CHAR_OF_BYTE[b] = c;
            BYTE_OF_CHAR[c] = b;
        }
    }

    private ByteLevelAlphabet() {}

    /** The UTF-8 bytes of {@code s}, each written as its stand-in character. */
    static String encode(String s) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = CHAR_OF_BYTE[bytes[i] & 0xFF];
        }
        return new String(out);
    }

    /** The bytes the stand-in characters of {@code token} mean, or null when a character is no stand-in. */
    static byte[] decode(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            int b = c < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[c] : -1;
            if (b < 0) {
                return null;
            }
            out[i] = (byte) b;
        }
        return out;
    }

    static char charOf(int b) {
        return CHAR_OF_BYTE[b];
    }
}
