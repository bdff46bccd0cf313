package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.ByteSize;
import dev.arica.formats.io.Json;
import dev.arica.upscale.LayerMap;
import dev.arica.upscale.LayerSpec;
import dev.arica.upscale.Upscaler;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica upscale}: depth up-scaling (SOLAR) and layer surgery by ranges of layers (mergekit passthrough). */
@Command(name = "upscale", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Build a deeper (or shallower) model from ranges of a model's decoder layers.",
                "--drop M: SOLAR's depth up-scaling, the model twice, the last M layers dropped from the first copy",
                "and the first M from the second (n = 32, M = 8: 48 layers). --slices A:B,C:D: half-open ranges of",
                "source layers copied in order and renumbered (mergekit passthrough). Embeddings, final norm and",
                "head are kept once, config.json and side files carried over, tensors copied as stored (quantized",
                "ones too). An HF directory gives an HF directory, an .arica file an .arica file. Written atomically."})
final class UpscaleCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "IN",
            description = "An HF directory or an .arica file; with --dry-run also a config.json (or a directory holding only one).")
    Path input;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT",
            description = "The output: a directory for an HF input, a file for an .arica input. Not needed with --dry-run.")
    Path output;

    /** Exactly one way of choosing the layers. */
    static final class Layers {
        @Option(names = "--drop", paramLabel = "M", required = true,
                description = "SOLAR depth up-scaling: 2 (n - M) layers, source 0..n-M-1 then M..n-1.")
        Integer drop;

        @Option(names = "--slices", paramLabel = "A:B,C:D", required = true,
                description = "Half-open ranges of source layers, copied in order, e.g. 0:24,8:32.")
        String slices;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Layers layers;

    // Not ShardSizeOption's: no fixed default (0 lets Upscaler keep the input's largest shard).
    @Option(names = "--max-shard-size", paramLabel = "SIZE",
            description = "Largest shard of the output directory, e.g. 5GB, 2GiB (default: the input's largest shard, or 5GB).")
    String maxShardSize;

    @Option(names = "--dry-run", description = "Print the layer map, layer count, parameters and size; write nothing.")
    boolean dryRun;

    @Option(names = "--json", description = "Print one JSON object on stdout.")
    boolean json;

    @Option(names = "--force", description = "Replace an existing output.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LayerSpec layerSpec = layerSpec();
        long shard = maxShardSize == null ? 0 : ShardSizeOption.parse(maxShardSize);
        if (!dryRun && output == null) {
            throw AricaException.badInput("-o/--output is required (or --dry-run to only print the plan)");
        }
        Upscaler.Kind kind = Upscaler.kind(input);
        if (maxShardSize != null && kind == Upscaler.Kind.ARICA) {
            throw AricaException.badInput("--max-shard-size applies to HF directory outputs; an .arica input gives "
                    + "one .arica file");
        }
        PrintWriter out = spec.commandLine().getOut();
        try {
            if (dryRun) {
                Upscaler.Plan plan = Upscaler.plan(input, layerSpec);
                print(out, plan, null);
            } else {
                Upscaler.Options options = new Upscaler.Options(shard, force, Cli.version(),
                        "arica " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
                Upscaler.Result r = Upscaler.upscale(input, output, layerSpec, options,
                        ProgressPrinter.forStderr(spec.commandLine().getErr()));
                print(out, r.plan(), r);
            }
        } catch (IllegalArgumentException e) {
            // Ranges that do not fit this model, or an output that is the input: say which model.
            throw AricaException.badInput(input + ": " + e.getMessage());
        }
        out.flush();
        return ExitCode.OK;
    }

    private LayerSpec layerSpec() {
        if (layers.drop != null) {
            return new LayerSpec.Drop(layers.drop);
        }
        try {
            return LayerSpec.Slices.parse(layers.slices);
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput("--slices: " + e.getMessage());
        }
    }

    private void print(PrintWriter out, Upscaler.Plan plan, Upscaler.Result result) throws java.io.IOException {
        if (json) {
            out.println(Json.MAPPER.writeValueAsString(json(plan, result)));
            return;
        }
        LayerMap map = plan.map();
        if (result == null) {
            out.println("layer map (new <- source):");
            int[] sources = map.sources();
            int width = Integer.toString(sources.length - 1).length();
            for (int j = 0; j < sources.length; j++) {
                out.printf(Locale.ROOT, "  %" + width + "d <- %d%n", j, sources[j]);
            }
        }
        out.printf(Locale.ROOT, "layers: %d (from %d; ranges %s)%n", map.layers(), map.sourceLayers(), map.slicesText());
        out.printf(Locale.ROOT, "parameters: %,d (from %,d)%s%n", plan.parameters(), plan.sourceParameters(),
                plan.estimated() ? ", computed from config.json" : "");
        out.printf(Locale.ROOT, "size: %s (from %s)%s%n", ByteSize.format(plan.bytes()), ByteSize.format(plan.sourceBytes()),
                plan.estimated() ? ", " + plan.dtype() : "");
        out.printf(Locale.ROOT, "config: %s %d -> %d%s%n", plan.layersKey(), map.sourceLayers(), map.layers(),
                plan.configKeys().isEmpty() ? "" : "; re-indexed: " + String.join(", ", plan.configKeys()));
        if (result == null) {
            out.println("dry run: nothing written");
        } else {
            out.printf(Locale.ROOT, "wrote %s: %d tensors%s%n", result.output(), plan.tensors(),
                    plan.kind() == Upscaler.Kind.HF_DIRECTORY
                            ? ", " + result.shards() + (result.shards() == 1 ? " shard" : " shards") : "");
        }
    }

    static ObjectNode json(Upscaler.Plan plan, Upscaler.Result result) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("input", plan.input().toString());
        o.put("kind", plan.kind().name().toLowerCase(Locale.ROOT).replace('_', '-'));
        o.put("dry_run", result == null);
        if (result == null) {
            o.putNull("output");
        } else {
            o.put("output", result.output().toString());
        }
        LayerMap map = plan.map();
        o.put("source_layers", map.sourceLayers());
        o.put("layers", map.layers());
        ArrayNode slices = o.putArray("slices");
        map.slices().forEach(s -> slices.add(s.toString()));
        ArrayNode sources = o.putArray("layer_map");
        for (int s : map.sources()) {
            sources.add(s);
        }
        ArrayNode keys = o.putArray("config_keys_reindexed");
        plan.configKeys().forEach(keys::add);
        o.put("estimated", plan.estimated());
        if (plan.estimated()) {
            o.putNull("tensors");
            o.put("dtype", plan.dtype());
        } else {
            o.put("tensors", plan.tensors());
            o.putNull("dtype");
        }
        o.put("source_parameters", plan.sourceParameters());
        o.put("parameters", plan.parameters());
        o.put("source_bytes", plan.sourceBytes());
        o.put("bytes", plan.bytes());
        if (result == null) {
            o.putNull("shards");
        } else {
            o.put("shards", result.shards());
        }
        return o;
    }
}
