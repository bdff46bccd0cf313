package dev.arica.quantize;

import dev.arica.formats.quant.QuantLayout;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A layout for the quantized tensors whose name contains a match of {@code pattern} instead of the command's scheme
 * ({@code --tensor-scheme PATTERN=SCHEME}, llama-quantize's {@code --tensor-type}): mixed precision, such as 8-bit
 * key and value projections beside 4-bit everything else. It changes how a tensor is stored, never whether it is
 * quantized.
 */
public record SchemeRule(Pattern pattern, QuantLayout layout) {

    /** The layout of the first rule matching {@code name}, if any. */
    public static Optional<QuantLayout> first(List<SchemeRule> rules, String name) {
        return rules.stream().filter(r -> r.pattern.matcher(name).find()).map(SchemeRule::layout).findFirst();
    }

    /** As given on the command line: {@code PATTERN=scheme}. */
    public String describe() {
        return pattern.pattern() + "=" + layout.describe();
    }
}
