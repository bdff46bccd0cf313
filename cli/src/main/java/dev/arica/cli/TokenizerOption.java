package dev.arica.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The --tokenizer option of the commands that read a llama2.c checkpoint and carry its tokenizer along. */
final class TokenizerOption {
    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "Tokenizer of a llama2.c checkpoint (default: tokenizer.bin or tok<vocab>.bin beside it).")
    Path file;
}
