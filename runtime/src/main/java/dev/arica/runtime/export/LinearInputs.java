package dev.arica.runtime.export;

import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.NodeProto;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The inputs of a graph's projections as extra graph outputs, for calibration
 * ({@link OnnxExporter.Options#linearInputs}): one output per distinct input value, [rows, in] float32 with rows =
 * batch * sequence, named {@code linear_inputs/LAYER/W1,W2,...} after the layer (-1 outside the numbered layers)
 * and the checkpoint weights that multiply it (q, k and v share one; gate and up another).
 */
public final class LinearInputs {
    /** Prefix of the outputs' names. */
    public static final String PREFIX = "linear_inputs/";
    private static final Pattern LAYER = Pattern.compile("^layers\\.(\\d+)/");
    private static final Pattern OUTPUT = Pattern.compile("^" + Pattern.quote(PREFIX) + "(-?\\d+)/(.+)$");

    /**
     * A projection input: the graph value, its layer, its width and the weights applied to it.
     *
     * @param weights checkpoint weight names, in the order the graph applies them
     */
    public record Input(String value, int layer, long columns, List<String> weights) {
        /** The name of the graph output that carries it. */
        public String output() {
            return PREFIX + layer + "/" + String.join(",", weights);
        }
    }

    /** What an output name says: layer and weights; empty when it is not one of these outputs. */
    public record Output(String name, int layer, List<String> weights) {}

    private LinearInputs() {}

    /** The layer of a projection node named "layers.N/...", or -1. */
    static int layerOf(String nodeName) {
        Matcher m = LAYER.matcher(nodeName);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Reads an output name written by {@link #declare}. */
    public static Optional<Output> parse(String outputName) {
        Matcher m = OUTPUT.matcher(outputName);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new Output(outputName, Integer.parseInt(m.group(1)), Arrays.asList(m.group(2).split(","))));
    }

    /** Adds an Identity of each input and declares it a graph output. */
    static void declare(GraphProto.Builder graph, List<Input> inputs) {
        for (Input in : inputs) {
            String out = in.output();
            graph.addNode(NodeProto.newBuilder().setOpType("Identity").setName(out + "/Identity").addInput(in.value())
                    .addOutput(out));
            graph.addOutput(OnnxModel.ValueInfo.tensor(out, OnnxType.FLOAT, "rows", in.columns()).toProto());
        }
    }
}
