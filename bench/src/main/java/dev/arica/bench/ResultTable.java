package dev.arica.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code RESULT} lines ({@code RESULT<TAB>key=value<TAB>...}) and their markdown table. Runs of the same
 * file, reader and -Xmx are one row: the median time of the runs that succeeded (with their range), the
 * largest peaks.
 * "Open/decode" is the part of the time before the fold began: for arica parsing the header and mapping
 * the file, for DJL decoding, which reads all the data. Times are also given as a ratio to {@code cat FILE > /dev/null} on the same file in the same run
 * (reader "cat"), the machine primitive.
 */
final class ResultTable {

    static final String PREFIX = "RESULT";

    private ResultTable() {}

    static String format(Map<String, String> fields) {
        StringBuilder sb = new StringBuilder(PREFIX);
        fields.forEach((k, v) -> sb.append('\t').append(k).append('=').append(v));
        return sb.toString();
    }

    static Map<String, String> parse(String line) {
        Map<String, String> m = new LinkedHashMap<>();
        String[] parts = line.split("\t");
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq > 0) {
                m.put(parts[i].substring(0, eq), parts[i].substring(eq + 1));
            }
        }
        return m;
    }

    private record Key(String file, String reader, String xmx) {}

    static String render(List<String> lines) {
        Map<Key, List<Map<String, String>>> groups = new LinkedHashMap<>();
        for (String line : lines) {
            if (!line.startsWith(PREFIX + "\t")) {
                continue;
            }
            Map<String, String> r = parse(line);
            Key k = new Key(r.get("file"), r.get("reader"), r.getOrDefault("xmx", ""));
            groups.computeIfAbsent(k, x -> new ArrayList<>()).add(r);
        }
        Map<String, Double> catMedian = new LinkedHashMap<>();
        groups.forEach((k, runs) -> {
            if (k.reader().equals("cat")) {
                catMedian.put(k.file(), median(runs, true));
            }
        });
        StringBuilder sb = new StringBuilder();
        sb.append("| File | Reader | -Xmx | Result | Time (s), median (min–max) | of which open/decode (s) | GB/s | × cat | Peak heap | Peak anon RSS | Checksum |\n");
        sb.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n");
        List<String> notes = new ArrayList<>();
        for (Map.Entry<Key, List<Map<String, String>>> e : groups.entrySet()) {
            Key k = e.getKey();
            List<Map<String, String>> runs = e.getValue();
            long bytes = Long.parseLong(runs.get(0).get("bytes"));
            long ok = runs.stream().filter(r -> "true".equals(r.get("ok"))).count();
            double t = median(runs, ok > 0);
            String result;
            if (ok == runs.size()) {
                result = "ok";
            } else {
                Set<String> errors = new LinkedHashSet<>();
                runs.stream().filter(r -> !"true".equals(r.get("ok"))).forEach(r -> errors.add(
                        r.get("error") + (r.containsKey("root_cause") ? " (cause: " + r.get("root_cause") + ")" : "")));
                for (String err : errors) {
                    if (!notes.contains(err)) {
                        notes.add(err);
                    }
                }
                String marks = errors.stream().map(err -> "[" + (notes.indexOf(err) + 1) + "]")
                        .reduce("", String::concat);
                result = (ok == 0 ? "**fails** " : "fails " + (runs.size() - ok) + "/" + runs.size() + " ") + marks;
            }
            Double cat = catMedian.get(k.file());
            boolean isCat = k.reader().equals("cat");
            sb.append("| ").append(k.file()).append(" (").append(gb(bytes)).append(" GB) | ")
                    .append(isCat ? "`cat > /dev/null`" : k.reader()).append(" | ")
                    .append(isCat ? "—" : k.xmx()).append(" | ")
                    .append(result).append(" | ")
                    .append(ok > 0 ? fmt(t, 2) + range(runs) : "(" + fmt(t, 2) + " to fail)").append(" | ")
                    .append(ok > 0 && !isCat ? fmt(median(runs, true, "load_seconds"), 2) : "—").append(" | ")
                    .append(ok > 0 ? fmt(bytes / 1e9 / t, 2) : "—").append(" | ")
                    .append(ok > 0 && cat != null ? fmt(t / cat, 2) : "—").append(" | ")
                    .append(isCat ? "—" : mib(max(runs, "peak_heap"))).append(" | ")
                    .append(isCat ? "—" : mib(max(runs, "peak_anon_rss"))).append(" | ")
                    .append(checksums(runs)).append(" |\n");
        }
        if (!notes.isEmpty()) {
            sb.append('\n');
            for (int i = 0; i < notes.size(); i++) {
                sb.append('[').append(i + 1).append("]: `").append(notes.get(i)).append("`\n\n");
            }
        }
        return sb.toString();
    }

    /** Median time of the runs (only those that succeeded when {@code okOnly}). */
    private static double median(List<Map<String, String>> runs, boolean okOnly) {
        return median(runs, okOnly, "seconds");
    }

    private static double median(List<Map<String, String>> runs, boolean okOnly, String key) {
        double[] t = runs.stream().filter(r -> !okOnly || "true".equals(r.get("ok")))
                .filter(r -> r.containsKey(key))
                .mapToDouble(r -> Double.parseDouble(r.get(key))).sorted().toArray();
        if (t.length == 0) {
            return Double.NaN;
        }
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }

    /** " (min–max)" of the successful runs' times when there are several. */
    private static String range(List<Map<String, String>> runs) {
        double[] t = runs.stream().filter(r -> "true".equals(r.get("ok")))
                .mapToDouble(r -> Double.parseDouble(r.get("seconds"))).sorted().toArray();
        return t.length < 2 ? "" : " (" + fmt(t[0], 2) + "–" + fmt(t[t.length - 1], 2) + ")";
    }

    private static long max(List<Map<String, String>> runs, String key) {
        return runs.stream().mapToLong(r -> Long.parseLong(r.getOrDefault(key, "-1"))).max().orElse(-1);
    }

    private static String checksums(List<Map<String, String>> runs) {
        String[] c = runs.stream().map(r -> r.get("checksum")).filter(x -> x != null).distinct().toArray(String[]::new);
        return c.length == 0 ? "—" : String.join(", ", Arrays.asList(c));
    }

    private static String gb(long bytes) {
        return fmt(bytes / 1e9, 2);
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "n/a" : fmt(bytes / 1048576.0, 0) + " MiB";
    }

    private static String fmt(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
