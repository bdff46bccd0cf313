package dev.arica.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.gguf.GgufCheckpoint;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.gptq.GptqConfig;
import dev.arica.formats.gptq.GptqWeight;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.io.ByteSize;
import dev.arica.formats.io.Json;
import dev.arica.formats.onnx.OnnxModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica inspect}: what is in a checkpoint, from its headers alone. */
@Command(name = "inspect", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Show the format, tensors, parameter count, metadata and config of a checkpoint.",
                "For an ONNX model: opsets, inputs and outputs, operators, and where each initializer's data lies.",
                "For a GGUF file: its metadata, and each tensor's GGML type and GGUF name beside the HF name it is read as.",
                "Reads headers only: its time does not grow with the size of the tensors."})
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "PATH",
            description = "A .safetensors file, an HF checkpoint directory, a PyTorch file (torch.save: .bin, .pt), "
                    + "a GGUF file, a llama2.c .bin, an .arica or an .onnx file.")
    Path path;

    @Option(names = "--json", description = "Print one JSON object on stdout.")
    boolean json;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "Tokenizer of a llama2.c checkpoint, when not beside it.")
    Path tokenizer;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean file = java.nio.file.Files.isRegularFile(path);
        if (file && AricaFile.looksLikeArica(path)) {
            try (AricaFile f = AricaFile.open(path)) {
                ObjectNode report = aricaReport(f);
                return show(out, report, () -> printArica(out, f, report));
            }
        }
        if (file && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            try (OnnxModel m = OnnxModel.open(path)) {
                ObjectNode report = onnxReport(m);
                return show(out, report, () -> printOnnx(out, m, report));
            }
        }
        try (Checkpoint c = Checkpoint.open(path, tokenizer)) {
            ObjectNode report = report(c);
            return show(out, report, () -> printHuman(out, c, report));
        }
    }

    /** Prints the report as JSON with --json, else as the human-readable form. */
    private int show(PrintWriter out, ObjectNode report, Runnable human) throws java.io.IOException {
        if (json) {
            out.println(Json.MAPPER.writeValueAsString(report));
        } else {
            human.run();
        }
        out.flush();
        return ExitCode.OK;
    }

    static ObjectNode report(Checkpoint c) {
        ObjectNode r = Json.MAPPER.createObjectNode();
        r.put("format", c.format());
        r.put("path", c.path().toString());
        r.put("parameters", c.parameterCount());
        r.put("bytes", c.dataBytes());
        ObjectNode meta = r.putObject("metadata");
        c.metadata().forEach(meta::put);
        if (c instanceof HfCheckpoint hf) {
            r.put("shards", hf.shardCount());
        }
        r.set("config", c.config().<JsonNode>map(x -> x).orElse(Json.MAPPER.nullNode()));
        FamilySummary.of(c).putInto(r);
        ArrayNode files = r.putArray("files");
        c.auxFiles().forEach(a -> files.add(a.name()));
        GptqCheckpoint gptq = c instanceof GptqCheckpoint g ? g : null;
        GgufCheckpoint gguf = c instanceof GgufCheckpoint g ? g : null;
        if (gguf != null) {
            putGguf(r, gguf);
        }
        if (gptq != null) {
            GptqConfig q = gptq.gptq();
            r.putObject("gptq").put("bits", q.bits()).put("group_size", q.groupSize()).put("sym", q.sym())
                    .put("desc_act", q.descAct()).put("checkpoint_format", q.format().id)
                    .put("file", q.file().getFileName().toString());
        }
        ArrayNode tensors = r.putArray("tensors");
        for (TensorInfo t : c.tensors()) {
            GptqWeight w = gptq == null ? null : gptq.weight(t.name()).orElse(null);
            long bytes = w != null ? w.storedBytes() : gguf != null ? gguf.storedBytes(t.name()) : t.byteSize();
            ObjectNode o = tensorRow(tensors, t.name(), t.dtype().safetensorsName(), t.shape(), bytes);
            if (w != null) {
                putGptq(o, gptq, w);
            }
            if (gguf != null) {
                o.put("ggml_type", gguf.ggmlType(t.name()).name());
                o.put("gguf_name", gguf.ggufName(t.name()));
            }
        }
        return r;
    }

    /** A GGUF file's keys: version, alignment, types, why no tokenizer; "bytes" are the stored ones. */
    private static void putGguf(ObjectNode r, GgufCheckpoint g) {
        r.put("bytes", g.tensors().stream().mapToLong(t -> g.storedBytes(t.name())).sum());
        ObjectNode meta = r.putObject("metadata");
        g.ggufMetadata().forEach(meta::put);
        r.put("gguf_version", g.file().version());
        r.put("alignment", g.file().alignment());
        r.put("ggml_types", g.typeSummary());
        if (g.tokenizerProblem().isPresent()) {
            r.put("tokenizer_problem", g.tokenizerProblem().get());
        } else {
            r.putNull("tokenizer_problem");
        }
    }

    /** A GPTQ layer's row: how it is quantized and the tensors that store it. */
    private static void putGptq(ObjectNode o, GptqCheckpoint c, GptqWeight w) {
        GptqConfig q = c.gptq();
        boolean inOrder;
        try {
            inOrder = c.planes(w).inOrder(q.groupRows(w.in()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        o.put("scheme", "gptq").put("bits", q.bits()).put("group_size", q.groupSize()).put("sym", q.sym())
                .put("desc_act", !inOrder).put("checkpoint_format", q.format().id);
        ArrayNode stored = o.putArray("stored");
        for (String s : w.stored()) {
            stored.add(s);
        }
    }

    /** "gptq 4-bit g32 sym, g_idx in order, zeros minus one (qweight, ...)": a GPTQ layer's note in the table. */
    private static String gptqNote(JsonNode t) {
        List<String> stored = new java.util.ArrayList<>();
        t.get("stored").forEach(n -> stored.add(n.asText().substring(n.asText().lastIndexOf('.') + 1)));
        return "gptq " + t.get("bits").asInt() + "-bit g" + t.get("group_size").asInt() + " "
                + (t.get("sym").asBoolean() ? "sym" : "asym") + ", " + (t.get("desc_act").asBoolean() ? "desc_act"
                : "g_idx in order") + ", " + (t.get("checkpoint_format").asText().equals(GptqConfig.Format.V2.id)
                ? "true zeros" : "zeros minus one") + " (" + String.join(", ", stored) + ")";
    }

    private static void printHuman(PrintWriter out, Checkpoint c, ObjectNode r) {
        String fmt = c.format() + (c instanceof HfCheckpoint hf && hf.shardCount() > 1 ? " (" + hf.shardCount() + " shards)" : "");
        row(out, "path", c.path().toString());
        row(out, "format", fmt);
        row(out, "tensors", String.valueOf(c.tensors().size()));
        row(out, "parameters", String.format(Locale.ROOT, "%,d (%s)", c.parameterCount(), humanCount(c.parameterCount())));
        long bytes = r.get("bytes").asLong();
        row(out, "bytes", String.format(Locale.ROOT, "%,d (%s)", bytes, ByteSize.format(bytes)));
        Map<String, String> meta = c instanceof GgufCheckpoint g ? g.ggufMetadata() : c.metadata();
        if (c instanceof GgufCheckpoint g) {
            row(out, "gguf", "version " + g.file().version() + ", alignment " + g.file().alignment() + ", "
                    + g.typeSummary());
            // One key a line: GGUF metadata is long and may hold whole texts (chat templates).
            row(out, "metadata", meta.isEmpty() ? "(none)" : meta.size() + " keys");
            meta.forEach((k, v) -> out.printf(Locale.ROOT, "  %s = %s%n", k, shortened(v)));
            g.tokenizerProblem().ifPresent(p -> row(out, "tokenizer", "not rebuilt: " + p));
        } else {
            row(out, "metadata", meta.isEmpty() ? "(none)" : meta.entrySet().stream()
                    .map(e -> e.getKey() + "=" + e.getValue()).reduce((a, b) -> a + ", " + b).orElse(""));
        }
        c.config().ifPresentOrElse(cfg -> row(out, "config", configSummary(cfg)), () -> row(out, "config", "(none)"));
        c.config().ifPresent(cfg -> row(out, "family", FamilySummary.of(c).line()));
        if (c instanceof GptqCheckpoint g) {
            row(out, "gptq", g.gptq().describe() + ", from " + g.gptq().file().getFileName());
        }
        if (!c.auxFiles().isEmpty()) {
            row(out, "files", c.auxFiles().stream().map(a -> a.name()).reduce((a, b) -> a + ", " + b).orElse(""));
        }
        out.println();
        List<TensorInfo> ts = c.tensors();
        int nameWidth = Math.max(4, ts.stream().mapToInt(t -> t.name().length()).max().orElse(4));
        int shapeWidth = Math.max(5, ts.stream().mapToInt(t -> t.shapeString().length()).max().orElse(5));
        if (c instanceof GgufCheckpoint g) {
            printGgufTensors(out, g, r);
            return;
        }
        // A GPTQ checkpoint's table says how each layer is stored (and its size is the stored one).
        boolean notes = c instanceof GptqCheckpoint;
        String f = "%-" + nameWidth + "s  %-7s  %-" + shapeWidth + "s  %12s" + (notes ? "  %s" : "%s");
        out.println(String.format(Locale.ROOT, f, "NAME", "DTYPE", "SHAPE", "SIZE", notes ? "NOTE" : ""));
        JsonNode rows = r.get("tensors");
        for (int i = 0; i < ts.size(); i++) {
            TensorInfo t = ts.get(i);
            JsonNode row = rows.get(i);
            out.println(String.format(Locale.ROOT, f, t.name(), t.dtype().safetensorsName(), t.shapeString(),
                    ByteSize.format(row.get("bytes").asLong()), row.has("scheme") ? gptqNote(row) : "").stripTrailing());
        }
    }

    /** A GGUF file's tensors: the HF name each is read as, its GGUF name, GGML type, shape and stored size. */
    private static void printGgufTensors(PrintWriter out, GgufCheckpoint g, ObjectNode r) {
        List<TensorInfo> ts = g.tensors();
        int nameWidth = Math.max(4, ts.stream().mapToInt(t -> t.name().length()).max().orElse(4));
        int ggufWidth = Math.max(9, ts.stream().mapToInt(t -> g.ggufName(t.name()).length()).max().orElse(9));
        int shapeWidth = Math.max(5, ts.stream().mapToInt(t -> t.shapeString().length()).max().orElse(5));
        String f = "%-" + nameWidth + "s  %-" + ggufWidth + "s  %-7s  %-" + shapeWidth + "s  %12s";
        out.println(String.format(Locale.ROOT, f, "NAME", "GGUF NAME", "GGML", "SHAPE", "SIZE"));
        JsonNode rows = r.get("tensors");
        for (int i = 0; i < ts.size(); i++) {
            TensorInfo t = ts.get(i);
            out.println(String.format(Locale.ROOT, f, t.name(), g.ggufName(t.name()), g.ggmlType(t.name()),
                    t.shapeString(), ByteSize.format(rows.get(i).get("bytes").asLong())).stripTrailing());
        }
    }

    /** A metadata value on one line of at most 100 characters. */
    private static String shortened(String v) {
        String line = v.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r");
        return line.length() <= 100 ? line : line.substring(0, 97) + "...";
    }

    /** One entry of a report's "tensors" array, the keys every format shares; returned for format-specific keys. */
    private static ObjectNode tensorRow(ArrayNode tensors, String name, String dtype, long[] shape, long bytes) {
        ObjectNode o = tensors.addObject();
        o.put("name", name);
        o.put("dtype", dtype);
        ArrayNode a = o.putArray("shape");
        for (long d : shape) {
            a.add(d);
        }
        o.put("bytes", bytes);
        return o;
    }

    static ObjectNode aricaReport(AricaFile f) {
        ObjectNode r = Json.MAPPER.createObjectNode();
        r.put("format", "arica");
        r.put("path", f.path().toString());
        long params = 0;
        long bytes = 0;
        long raw = 0;
        for (AricaEntry e : f.entries()) {
            params += e.info().elements();
            bytes += e.length();
            raw += e.rawLength();
        }
        r.put("parameters", params);
        r.put("bytes", bytes);
        r.put("raw_bytes", raw);
        r.put("format_version", f.index().path("format_version").asText());
        r.set("metadata", f.index().path("user").isObject() ? f.index().get("user") : Json.MAPPER.createObjectNode());
        r.set("config", f.config().<JsonNode>map(x -> x).orElse(Json.MAPPER.nullNode()));
        r.set("provenance", f.index().path("provenance"));
        FamilySummary.of(f).putInto(r);
        ArrayNode files = r.putArray("files");
        f.files().forEach(x -> files.add(x.name()));
        ArrayNode tensors = r.putArray("tensors");
        for (AricaEntry e : f.entries()) {
            ObjectNode o = tensorRow(tensors, e.name(), e.dtype().safetensorsName(), e.shape(), e.length());
            o.put("raw_bytes", e.rawLength());
            o.put("scheme", e.storage().id());
            if (e.storage() instanceof Storage.Quantized q) {
                o.put("group_size", q.layout().groupSize());
                o.put("asymmetric", q.layout().asymmetric());
                long[] stored = q.storedShape(e.shape());
                long cols = stored.length == 0 ? 1 : stored[stored.length - 1];
                if (q.transposed()) {
                    o.put("transposed", true);
                }
                if (q.permuted()) {
                    o.put("permuted", true);
                }
                long padded = q.layout().groups(cols) * q.layout().groupSize();
                // Rows are padded with zeros to whole groups (docs/arica-format.md); say so where it happened.
                if (padded != cols) {
                    o.put("padded_columns", padded);
                }
            } else {
                o.putNull("group_size");
            }
            o.put("compression", e.compressed() ? "zstd" : "none");
            if (e.compressed()) {
                o.put("compression_ratio", e.length() == 0 ? 1.0 : (double) e.rawLength() / e.length());
            }
        }
        return r;
    }

    private static void printArica(PrintWriter out, AricaFile f, ObjectNode r) {
        row(out, "path", f.path().toString());
        row(out, "format", "arica " + r.get("format_version").asText());
        row(out, "tensors", String.valueOf(f.entries().size()));
        long params = r.get("parameters").asLong();
        row(out, "parameters", String.format(Locale.ROOT, "%,d (%s)", params, humanCount(params)));
        row(out, "bytes", String.format(Locale.ROOT, "%,d stored (%s; %s before compression)", r.get("bytes").asLong(),
                ByteSize.format(r.get("bytes").asLong()), ByteSize.format(r.get("raw_bytes").asLong())));
        f.config().ifPresentOrElse(cfg -> row(out, "config", configSummary(cfg)), () -> row(out, "config", "(none)"));
        f.config().ifPresent(cfg -> row(out, "family", FamilySummary.of(f).line()));
        JsonNode prov = r.get("provenance");
        if (prov != null && prov.isObject() && prov.has("command_line")) {
            row(out, "created by", prov.get("command_line").asText());
        }
        if (!f.files().isEmpty()) {
            row(out, "files", f.files().stream().map(AricaFile.FileEntry::name).reduce((a, b) -> a + ", " + b).orElse(""));
        }
        out.println();
        int nameWidth = Math.max(4, f.entries().stream().mapToInt(e -> e.name().length()).max().orElse(4));
        String fmt = "%-" + nameWidth + "s  %-6s  %-16s  %-16s  %12s  %-11s  %s%n";
        out.printf(Locale.ROOT, fmt, "NAME", "DTYPE", "STORAGE", "SHAPE", "STORED", "COMPRESSION", "NOTE");
        JsonNode entries = r.get("tensors");
        for (int i = 0; i < f.entries().size(); i++) {
            AricaEntry e = f.entries().get(i);
            String storage = e.storage() instanceof Storage.Quantized q ? q.layout().describe() : e.storage().id();
            String comp = e.compressed() ? String.format(Locale.ROOT, "zstd %.2fx", (double) e.rawLength() / Math.max(1, e.length())) : "-";
            JsonNode padded = entries.get(i).get("padded_columns");
            String note = padded == null ? "" : "rows padded " + e.shape()[e.shape().length - 1] + " -> " + padded.asLong();
            if (entries.get(i).has("permuted")) {
                note = (note.isEmpty() ? "" : note + "; ") + "input features permuted (GPTQ desc_act)";
            }
            out.printf(Locale.ROOT, fmt, e.name(), e.dtype().safetensorsName(), storage,
                    java.util.Arrays.toString(e.shape()), ByteSize.format(e.length()), comp, note);
        }
    }

    static ObjectNode onnxReport(OnnxModel m) {
        ObjectNode r = Json.MAPPER.createObjectNode();
        r.put("format", "onnx");
        r.put("path", m.path().toString());
        r.put("parameters", m.parameterCount());
        r.put("bytes", m.dataBytes());
        r.put("ir_version", m.irVersion());
        r.put("producer_name", m.producerName());
        r.put("producer_version", m.producerVersion());
        ArrayNode opsets = r.putArray("opset_imports");
        for (OnnxModel.Opset o : m.opsetImports()) {
            opsets.addObject().put("domain", o.domain()).put("version", o.version());
        }
        ObjectNode meta = r.putObject("metadata");
        m.metadata().forEach(meta::put);
        r.set("inputs", values(m.inputs()));
        r.set("outputs", values(m.outputs()));
        r.put("nodes", m.nodeCount());
        ObjectNode ops = r.putObject("ops");
        m.opCounts().forEach(ops::put);
        ArrayNode files = r.putArray("files");
        for (Path f : m.dataFiles()) {
            files.add(m.path().toAbsolutePath().normalize().getParent().relativize(f).toString());
        }
        ArrayNode tensors = r.putArray("tensors");
        for (OnnxModel.Initializer i : m.initializers()) {
            ObjectNode o = tensorRow(tensors, i.name(), i.type().displayName(), i.shape(), i.bytes());
            o.put("external", i.external());
            if (i.external()) {
                o.put("location", i.location());
                o.put("offset", i.offset());
            } else {
                o.putNull("location");
                o.putNull("offset");
            }
        }
        return r;
    }

    /** Inputs or outputs: name, dtype (null when unknown), shape of numbers and symbolic names (null when undeclared). */
    private static ArrayNode values(List<OnnxModel.ValueInfo> list) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (OnnxModel.ValueInfo v : list) {
            ObjectNode o = a.addObject();
            o.put("name", v.name());
            if (v.type() == null) {
                o.putNull("dtype");
            } else {
                o.put("dtype", v.type().displayName());
            }
            if (v.shape() == null) {
                o.putNull("shape");
                continue;
            }
            ArrayNode shape = o.putArray("shape");
            for (OnnxModel.Dim d : v.shape()) {
                if (d.value() != null) {
                    shape.add(d.value());
                } else if (d.param() != null) {
                    shape.add(d.param());
                } else {
                    shape.addNull();
                }
            }
        }
        return a;
    }

    private static void printOnnx(PrintWriter out, OnnxModel m, ObjectNode r) {
        row(out, "path", m.path().toString());
        row(out, "format", "onnx (IR " + m.irVersion() + (m.producerName().isEmpty() ? "" : ", from "
                + (m.producerName() + " " + m.producerVersion()).strip()) + ")");
        row(out, "opsets", m.opsetImports().stream().map(o -> (o.domain().isEmpty() ? "ai.onnx" : o.domain()) + " "
                + o.version()).reduce((a, b) -> a + ", " + b).orElse("(none)"));
        row(out, "nodes", m.nodeCount() + (m.opCounts().isEmpty() ? "" : ": " + m.opCounts().entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue()).reduce((a, b) -> a + ", " + b).orElse("")));
        row(out, "tensors", String.valueOf(m.initializers().size()));
        row(out, "parameters", String.format(Locale.ROOT, "%,d (%s)", m.parameterCount(), humanCount(m.parameterCount())));
        long external = m.initializers().stream().filter(OnnxModel.Initializer::external)
                .mapToLong(OnnxModel.Initializer::bytes).sum();
        row(out, "bytes", String.format(Locale.ROOT, "%,d (%s; %s in external data)", m.dataBytes(),
                ByteSize.format(m.dataBytes()), ByteSize.format(external)));
        if (!m.metadata().isEmpty()) {
            row(out, "metadata", m.metadata().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .reduce((a, b) -> a + ", " + b).orElse(""));
        }
        if (!m.dataFiles().isEmpty()) {
            row(out, "files", r.get("files").toString());
        }
        for (String side : List.of("inputs", "outputs")) {
            out.println();
            out.println(side.toUpperCase(Locale.ROOT));
            for (JsonNode v : r.get(side)) {
                out.printf(Locale.ROOT, "  %-28s %-5s %s%n", v.get("name").asText(), v.get("dtype").asText("?"),
                        v.get("shape").isNull() ? "(no shape)" : v.get("shape").toString().replace("\"", "").replace(",", ", "));
            }
        }
        out.println();
        List<OnnxModel.Initializer> ts = m.initializers();
        int nameWidth = Math.max(4, ts.stream().mapToInt(t -> t.name().length()).max().orElse(4));
        int shapeWidth = Math.max(5, ts.stream().mapToInt(t -> java.util.Arrays.toString(t.shape()).length()).max().orElse(5));
        String f = "%-" + nameWidth + "s  %-7s  %-" + shapeWidth + "s  %12s  %s%n";
        out.printf(Locale.ROOT, f, "NAME", "DTYPE", "SHAPE", "SIZE", "DATA");
        for (OnnxModel.Initializer t : ts) {
            out.printf(Locale.ROOT, f, t.name(), t.type().displayName(), java.util.Arrays.toString(t.shape()),
                    ByteSize.format(t.bytes()), t.external() ? t.location() + " @ " + t.offset() : "inline");
        }
    }

    static String configSummary(ObjectNode cfg) {
        StringBuilder b = new StringBuilder();
        b.append(text(cfg, "model_type", "?"));
        JsonNode arch = cfg.get("architectures");
        if (arch != null && arch.isArray() && !arch.isEmpty()) {
            b.append(' ').append(arch.get(0).asText());
        }
        String[][] fields = {{"hidden_size", "hidden"}, {"intermediate_size", "intermediate"},
            {"num_hidden_layers", "layers"}, {"num_attention_heads", "heads"}, {"num_key_value_heads", "kv heads"},
            {"vocab_size", "vocab"}, {"max_position_embeddings", "context"}, {"torch_dtype", "dtype"}};
        String sep = ": ";
        for (String[] f : fields) {
            if (cfg.hasNonNull(f[0])) {
                b.append(sep).append(f[1]).append(' ').append(cfg.get(f[0]).asText());
                sep = ", ";
            }
        }
        if (cfg.has("tie_word_embeddings")) {
            b.append(sep).append(cfg.get("tie_word_embeddings").asBoolean() ? "tied embeddings" : "separate lm_head");
        }
        return b.toString();
    }

    private static String text(ObjectNode o, String key, String dflt) {
        JsonNode n = o.get(key);
        return n == null || n.isNull() ? dflt : n.asText();
    }

    static String humanCount(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2f B", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.2f M", n / 1e6);
        }
        if (n >= 1_000L) {
            return String.format(Locale.ROOT, "%.1f K", n / 1e3);
        }
        return Long.toString(n);
    }

    private static void row(PrintWriter out, String key, String value) {
        out.printf(Locale.ROOT, "%-11s %s%n", key, value);
    }
}
