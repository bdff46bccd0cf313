package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class FormatExceptionTest {

    @Test
    void controlCharactersQuotedFromAFileAreEscapedSoTheMessageStaysOneLine() {
        FormatException e = new FormatException(Path.of("m.gguf"), "a\nb", "metadata 'x\ty\r' is bad");
        assertEquals("m.gguf: tensor 'a\\u000ab': metadata 'x\\u0009y\\u000d' is bad", e.getMessage());
        assertEquals("metadata 'x\ty\r' is bad", e.problem());
    }

    @Test
    void printableMessagesAreUnchanged() {
        assertEquals("f: tensor 'w': caf\u00e9 \u65e5", new FormatException(Path.of("f"), "w", "caf\u00e9 \u65e5").getMessage());
    }
}
