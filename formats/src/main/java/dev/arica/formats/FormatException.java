package dev.arica.formats;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that is not what it claims to be. The message is one line naming the file, the tensor when
 * there is one, and what is wrong.
 */
public final class FormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;
    private final String problem;

    public FormatException(Path file, String tensor, String problem) {
        super(compose(file, tensor, problem));
        this.file = file;
        this.tensor = tensor;
        this.problem = problem;
    }

    public FormatException(Path file, String problem) {
        this(file, null, problem);
    }

    public Path file() {
        return file;
    }

    /** The tensor concerned, or null. */
    public String tensor() {
        return tensor;
    }

    public String problem() {
        return problem;
    }

    private static String compose(Path file, String tensor, String problem) {
        StringBuilder b = new StringBuilder();
        b.append(file == null ? "<input>" : file.toString());
        if (tensor != null) {
            b.append(": tensor '").append(tensor).append('\'');
        }
        b.append(": ").append(problem);
        // Names and values quoted from a bad file may hold any character: the message stays one line whatever they are.
        StringBuilder line = new StringBuilder(b.length());
        b.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                line.append(String.format("\\u%04x", c));
            } else {
                line.appendCodePoint(c);
            }
        });
        return line.toString();
    }
}
