package dev.arica.cli;

/** A failure the user can act on: an exit code and a one-line message saying what to do. */
public final class AricaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int exitCode;

    public AricaException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public AricaException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public static AricaException badInput(String message) {
        return new AricaException(ExitCode.BAD_INPUT, message);
    }

    public int exitCode() {
        return exitCode;
    }
}
