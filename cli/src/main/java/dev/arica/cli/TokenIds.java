package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.arica.runtime.generate.GenAiConfig;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Token ids as the commands read and write them: a comma-separated list ({@code 2,170,33}) given to an
 * option such as {@code --ids}, checked against a model's vocabulary and context, and written back as
 * such a list or a JSON array.
 */
final class TokenIds {
    private TokenIds() {}

    /** The ids of {@code value}, the text given to {@code option}: integers >= 0 separated by commas, at least one. */
    static int[] parse(String option, String value) {
        if (value.isBlank()) {
            throw AricaException.badInput(option + " is empty; give token ids separated by commas, e.g. 1,403,407");
        }
        String[] parts = value.split(",", -1);
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            try {
                ids[i] = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw AricaException.badInput(option + ": '" + p + "' (item " + (i + 1) + " of '" + value
                        + "') is not a token id; give integers separated by commas, e.g. 1,403,407");
            }
            if (ids[i] < 0) {
                throw AricaException.badInput(option + ": id " + ids[i] + " (item " + (i + 1) + ") is negative");
            }
        }
        return ids;
    }

    /** Refuses ids that {@code config}'s model cannot take: an id beyond its vocabulary, more ids than its context. */
    static int[] check(String option, int[] ids, GenAiConfig config) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= config.vocabSize()) {
                throw AricaException.badInput(option + ": id " + ids[i] + " (item " + (i + 1) + ") is outside the model's "
                        + "vocabulary of " + config.vocabSize() + " (ids 0 to " + (config.vocabSize() - 1) + ")");
            }
        }
        if (config.contextLength() > 0 && ids.length > config.contextLength()) {
            throw AricaException.badInput(option + " gives " + ids.length + " ids, more than the model's context of "
                    + config.contextLength());
        }
        return ids;
    }

    /** "2,170,33": what {@link #parse} reads. */
    static String format(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }

    /** Appends {@code ids} to a JSON array. */
    static void add(ArrayNode array, int[] ids) {
        for (int id : ids) {
            array.add(id);
        }
    }
}
