package dev.arica.cli;

/** The exit codes of every arica command. */
public final class ExitCode {
    /** The command did what was asked. */
    public static final int OK = 0;
    /** The command ran, and what it checked failed (a corrupt file, a failed threshold), or an I/O error. */
    public static final int FAILED = 1;
    /** Bad input or usage: a malformed file, a missing path, a wrong option. */
    public static final int BAD_INPUT = 2;
    /** A bug in arica. */
    public static final int INTERNAL = 3;

    private ExitCode() {}
}
