package dev.arica.cli;

import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.OutOfSpaceException;
import dev.arica.runtime.ort.DeviceUnavailableException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** Builds the {@code arica} command line; main and the tests go through the same factory. */
@Command(name = "arica",
        mixinStandardHelpOptions = true,
        versionProvider = Cli.Version.class,
        description = "Take LLM checkpoints apart and put them back together.",
        usageHelpAutoWidth = true)
public final class Cli implements Runnable {
    /** The subcommands, in the order {@code arica --help} lists them. */
    private static final List<Class<?>> COMMANDS = List.of(InspectCommand.class, ConvertCommand.class,
            QuantizeCommand.class, ExportOnnxCommand.class, ExportGgufCommand.class, GenerateCommand.class,
            ValidateCommand.class, ForwardCommand.class, UpscaleCommand.class, MergeLoraCommand.class, VerifyCommand.class,
            SynthCommand.class, TokenizeCommand.class, EmbedCommand.class, CommandLine.HelpCommand.class);

    @Option(names = "--verbose", scope = ScopeType.INHERIT, description = "Print stack traces of errors.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    /** Runs the command with the process's streams. */
    public static int execute(String... args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        return commandLine(out, err, args).execute(args);
    }

    /**
     * The command line for running {@code args}, printing results to {@code out} and messages to {@code err}: with only
     * the subcommand they name when they name one (other than {@code help}), else with every subcommand. Picocli builds
     * its model of a command by reflection when the command is added (its classes, compiled for Java 5, cannot be
     * kept in the JVM's AOT cache): 0.4 s for all of them, 0.25 s for one, before any work.
     */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err, String... args) {
        String name = Arrays.stream(args).filter(a -> !a.startsWith("-")).findFirst().orElse(null);
        List<Class<?>> named = COMMANDS.stream().filter(c -> c != CommandLine.HelpCommand.class
                && c.getAnnotation(Command.class).name().equals(name)).toList();
        return build(out, err, named.isEmpty() ? COMMANDS : named);
    }

    private static CommandLine build(PrintWriter out, PrintWriter err, List<Class<?>> commands) {
        CommandLine cl = new CommandLine(new Cli());
        for (Class<?> c : commands) { // before the settings below, which apply to the subcommands present
            cl.addSubcommand(c);
        }
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            boolean verbose = parseResult.hasMatchedOption("--verbose")
                    || parseResult.subcommands().stream().anyMatch(p -> p.hasMatchedOption("--verbose"));
            return report(ex, commandLine.getErr(), verbose);
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter e = ex.getCommandLine().getErr();
            e.println("arica: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help')");
            e.flush();
            return ExitCode.BAD_INPUT;
        });
        return cl;
    }

    /** One line on stderr for a failure, the stack trace too when verbose; returns the exit code. */
    static int report(Throwable ex, PrintWriter err, boolean verbose) {
        Throwable t = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        int code;
        String message;
        switch (t) {
            case AricaException a -> {
                code = a.exitCode();
                message = a.getMessage();
            }
            case FormatException f -> {
                code = ExitCode.BAD_INPUT;
                message = f.getMessage();
            }
            case NoSuchFileException n -> {
                code = ExitCode.BAD_INPUT;
                message = n.getFile() + ": no such file or directory" + (n.getReason() == null ? "" : " (" + n.getReason() + ")");
            }
            case AccessDeniedException a -> {
                code = ExitCode.BAD_INPUT;
                message = a.getFile() + ": permission denied";
            }
            case DirectoryNotEmptyException d -> {
                code = ExitCode.BAD_INPUT;
                message = d.getFile() + ": output directory exists and is not empty (use --force to replace it)";
            }
            case FileAlreadyExistsException f -> {
                code = ExitCode.BAD_INPUT;
                message = f.getFile() + ": " + (f.getReason() == null ? "already exists" : f.getReason());
            }
            case DeviceUnavailableException d -> {
                code = ExitCode.BAD_INPUT;
                message = d.getMessage();
            }
            case OutOfSpaceException o -> {
                // The destination cannot hold the output: the caller's to fix, like any other bad argument.
                code = ExitCode.BAD_INPUT;
                message = o.getMessage();
            }
            case FileSystemException f -> {
                code = ExitCode.FAILED;
                message = f.getMessage();
            }
            case FloatCast.UnsupportedCastException c -> {
                code = ExitCode.BAD_INPUT;
                message = c.getMessage();
            }
            case IllegalArgumentException i -> {
                code = ExitCode.BAD_INPUT;
                message = i.getMessage();
            }
            case IOException io -> {
                code = ExitCode.FAILED;
                message = "I/O error: " + io.getMessage();
            }
            case OutOfMemoryError oom -> {
                code = ExitCode.INTERNAL;
                message = "out of memory (" + oom.getMessage() + "); this is a bug in arica, please report it";
            }
            default -> {
                code = ExitCode.INTERNAL;
                message = "internal error: " + t + (verbose ? "" : " (rerun with --verbose for the stack trace)");
            }
        }
        err.println("arica: " + String.valueOf(message).replace('\n', ' '));
        if (verbose) {
            ex.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    /** The version from the build. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"arica " + version(), "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"};
        }
    }

    public static String version() {
        try (InputStream in = Cli.class.getResourceAsStream("version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
