package dev.arica.formats.pytorch;

/**
 * What is wrong with a pickle, raised where the reader's position is not at hand; {@link PickleReader} turns it
 * into a one-line FormatException naming the file, the pickle and the byte.
 */
final class PickleFault extends RuntimeException {
    private static final long serialVersionUID = 1L;

    PickleFault(String problem) {
        super(problem, null, false, false);
    }
}
