package dev.arica.cli;

/** Entry point of the {@code arica} command. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(Cli.execute(args));
    }
}
