package dev.arica.runtime.export;

import dev.arica.formats.FormatException;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.AttributeProto;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.ValueInfoProto;
import dev.arica.formats.quant.QuantLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What quantizing an ONNX model made elsewhere does to each of its initializers, decided from the graph alone
 * (no weight is read): which nodes read a weight as the operand of a product (MatMul's B, Gemm's B) or as an
 * embedding table (Gather's data), which of those can run on the weight quantized, and which uses need it float.
 *
 * <p>A weight is quantized as the [N, K] matrix of its product, along K (input features): a MatMul's B [K, N]
 * transposed, a Gemm's B [N, K] with transB as it is (transposed without), a Gather table [rows, width] as it is.
 * Each orientation is quantized once whatever the number of nodes reading it; a use that cannot run quantized (any
 * other operator, a subgraph, a graph output) keeps the float initializer for itself.
 */
final class OnnxWeightPlan {

    /** Weights of fewer elements stay float: a classifier head or a type embedding saves nothing worth its error. */
    static final long MIN_ELEMENTS = 4096;

    /** How an initializer holds the [N, K] matrix that is quantized: as it is, or transposed (MatMul's B [K, N]). */
    enum Orientation { ROWS, TRANSPOSED }

    /** The operators a quantized matrix feeds, each written once per matrix. */
    enum Form {
        /** com.microsoft MatMulNBits. */
        MATMUL_NBITS,
        /** com.microsoft GatherBlockQuantized. */
        GATHER_BLOCK_QUANTIZED,
        /** DequantizeLinear (opset 21) feeding a MatMul. */
        DEQUANTIZE_LINEAR,
        /**
         * ONNX DynamicQuantizeLinear (the activations, per tensor at run time) and com.microsoft MatMulIntegerToFloat,
         * on int8 per output channel ({@link ChannelInt8Weights}).
         */
        MATMUL_INTEGER_TO_FLOAT,
        /**
         * A Gather table in int8 per row dequantized by Cast and Mul before the Gather (standard operators, any opset),
         * which ONNX Runtime folds into a float table when it loads the model.
         */
        DEQUANTIZED_TABLE
    }

    /**
     * A weight quantized as an [n, k] matrix along k in {@code layout}, or, when it is null, in int8 per output
     * channel ({@link ChannelInt8Weights}).
     *
     * @param id unique among matrices, the prefix of its planes' names: the weight's name, with ".1", ".2"... for the
     *     further forms of a weight used both ways (or as a table in another layout)
     */
    record Matrix(String weight, String id, Orientation orientation, QuantLayout layout, long n, long k,
            Set<Form> forms) {
        boolean perChannel() {
            return layout == null;
        }

        /** "int4 g32", "int8 per channel" (per row of the [N, K] matrix). */
        String describe() {
            return perChannel() ? "int8 per channel" : layout.describe();
        }
    }

    /** The operator that replaces a node. */
    enum Op { MATMUL, GEMM, GATHER }

    /**
     * Node {@code node} of the main graph, run on {@code matrix} quantized.
     *
     * @param bias added to the product: a Gemm's C, or the bias of the Add that was the product's only reader; null
     *     when none
     * @param biasInput whether {@code bias} (a 1-D initializer of N) goes into the quantized operator's bias input,
     *     else it is added by an Add after it
     * @param absorbed the index of that Add, which the quantized operator replaces too; -1 when none
     * @param output the value the replacement computes: the node's output, or the absorbed Add's
     */
    record Replacement(int node, Op op, Matrix matrix, String bias, boolean biasInput, int absorbed, String output) {}

    /**
     * One initializer's fate.
     *
     * @param matrices the quantized forms (empty: kept as it is)
     * @param keptFloat whether the float initializer stays in the model (for the uses that need it, or all)
     * @param reason why, as the report says it
     */
    record Weight(OnnxModel.Initializer initializer, List<Matrix> matrices, boolean keptFloat, String reason) {
        boolean quantized() {
            return !matrices.isEmpty();
        }
    }

    /**
     * Options that change the plan; {@code tableLayout}: the layout of Gather tables (GatherBlockQuantized), null for
     * int8 per row dequantized before the Gather; {@code dynamic}: products in int8 per output channel for
     * MatMulIntegerToFloat.
     */
    record Selection(QuantLayout layout, QuantLayout tableLayout, List<Pattern> keep, boolean embeddings,
            boolean portable, boolean dynamic) {
        Selection {
            keep = List.copyOf(keep);
        }

        /** The layout of a matrix read by {@code op}; null for int8 per output channel. */
        QuantLayout layoutOf(Op op) {
            return op == Op.GATHER ? tableLayout : dynamic ? null : layout;
        }

        Form form(Op op) {
            if (op == Op.GATHER) {
                return tableLayout == null ? Form.DEQUANTIZED_TABLE : Form.GATHER_BLOCK_QUANTIZED;
            }
            return dynamic ? Form.MATMUL_INTEGER_TO_FLOAT : portable ? Form.DEQUANTIZE_LINEAR : Form.MATMUL_NBITS;
        }
    }

    private final List<Weight> weights;
    private final Map<Integer, Replacement> replacements;

    private OnnxWeightPlan(List<Weight> weights, Map<Integer, Replacement> replacements) {
        this.weights = weights;
        this.replacements = replacements;
    }

    /** Every initializer in the model's order. */
    List<Weight> weights() {
        return weights;
    }

    /** The nodes replaced, by index in the main graph (an absorbed Add is not among them). */
    Map<Integer, Replacement> replacements() {
        return replacements;
    }

    /** Indexes of the Add nodes whose bias went into a quantized operator. */
    Set<Integer> absorbed() {
        Set<Integer> out = new HashSet<>();
        replacements.values().forEach(r -> {
            if (r.absorbed() >= 0) {
                out.add(r.absorbed());
            }
        });
        return out;
    }

    /** Whether anything is quantized. */
    boolean quantizesAnything() {
        return !replacements.isEmpty();
    }

    /** A use of a weight by a node, before it is known whether the weight can be quantized. */
    private record Use(int node, Op op, Orientation orientation, String bias, String description) {}

    static OnnxWeightPlan of(OnnxModel model, Selection selection) throws FormatException {
        GraphProto graph = model.graph();
        Map<String, OnnxModel.Initializer> inits = new LinkedHashMap<>();
        for (OnnxModel.Initializer i : model.initializers()) {
            inits.put(i.name(), i);
        }
        Map<String, List<Use>> candidates = new HashMap<>();
        Map<String, List<String>> floatUses = new HashMap<>();
        for (ValueInfoProto out : graph.getOutputList()) {
            if (inits.containsKey(out.getName())) {
                floatUses.computeIfAbsent(out.getName(), n -> new ArrayList<>()).add("a graph output");
            }
        }
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto node = graph.getNode(i);
            for (AttributeProto a : node.getAttributeList()) {
                // Names read inside a subgraph may be the outer graph's initializers: those stay float.
                for (GraphProto sub : subgraphs(a)) {
                    for (String name : namesRead(sub)) {
                        if (inits.containsKey(name)) {
                            floatUses.computeIfAbsent(name, n -> new ArrayList<>())
                                    .add("read inside a subgraph of " + describe(node));
                        }
                    }
                }
            }
            for (int j = 0; j < node.getInputCount(); j++) {
                String name = node.getInput(j);
                OnnxModel.Initializer init = inits.get(name);
                if (init == null) {
                    continue;
                }
                Use use = use(model, node, i, j, selection);
                if (use.op() == null) {
                    floatUses.computeIfAbsent(name, n -> new ArrayList<>()).add(use.description());
                } else {
                    candidates.computeIfAbsent(name, n -> new ArrayList<>()).add(use);
                }
            }
        }
        List<Weight> weights = new ArrayList<>();
        Map<Integer, Replacement> replacements = new TreeMap<>();
        for (OnnxModel.Initializer init : inits.values()) {
            List<String> floats = new ArrayList<>(floatUses.getOrDefault(init.name(), List.of()));
            List<Use> uses = candidates.getOrDefault(init.name(), List.of());
            String refusal = refusal(init, selection);
            List<Use> quantizable = new ArrayList<>();
            for (Use u : uses) {
                String why = refusal != null ? refusal : useRefusal(model, init, u, selection);
                if (why == null) {
                    quantizable.add(u);
                } else {
                    floats.add(why);
                }
            }
            if (quantizable.isEmpty()) {
                String reason = refusal != null ? refusal : !floats.isEmpty() ? floats.getFirst() : "not read by any node";
                weights.add(new Weight(init, List.of(), true, reason));
                continue;
            }
            // One matrix per orientation and layout, made once its forms (the operators reading it) are all known.
            Map<String, Set<Form>> forms = new LinkedHashMap<>();
            for (Use u : quantizable) {
                forms.computeIfAbsent(key(u, selection), k -> EnumSet.noneOf(Form.class)).add(selection.form(u.op()));
            }
            Map<String, Matrix> matrices = new LinkedHashMap<>();
            for (Use u : quantizable) {
                Matrix m = matrices.computeIfAbsent(key(u, selection), k -> matrix(init, u.orientation(),
                        selection.layoutOf(u.op()), matrices.size(), forms.get(k)));
                replacements.put(u.node(), replacement(model, u, m, inits, selection));
            }
            weights.add(new Weight(init, List.copyOf(matrices.values()), !floats.isEmpty(),
                    quantizedReason(quantizable, floats, init)));
        }
        return new OnnxWeightPlan(Collections.unmodifiableList(weights), Collections.unmodifiableMap(replacements));
    }

    /**
     * The replacement of a product: its bias into the operator's bias input when it is a 1-D initializer of N (a
     * Gemm's C, or the other input of an Add that alone reads a MatMul's product), as ONNX Runtime fuses a float
     * MatMul and its bias; the portable form keeps MatMul and Add.
     */
    private static Replacement replacement(OnnxModel model, Use u, Matrix m, Map<String, OnnxModel.Initializer> inits,
            Selection selection) {
        NodeProto node = model.graph().getNode(u.node());
        boolean fusing = u.op() != Op.GATHER && !selection.portable();
        if (u.op() == Op.GEMM && u.bias() != null) {
            return new Replacement(u.node(), u.op(), m, u.bias(), fusing && isBias(inits.get(u.bias()), m), -1,
                    node.getOutput(0));
        }
        if (u.op() == Op.MATMUL && fusing) {
            String product = node.getOutput(0);
            int reader = onlyReader(model.graph(), product);
            if (reader >= 0) {
                NodeProto add = model.graph().getNode(reader);
                String other = add.getInput(0).equals(product) ? add.getInput(1) : add.getInput(0);
                boolean std = add.getDomain().isEmpty() || add.getDomain().equals("ai.onnx");
                if (std && add.getOpType().equals("Add") && add.getInputCount() == 2 && !other.equals(product)
                        && isBias(inits.get(other), m)
                        && inits.get(other).type() == model.initializer(m.weight()).orElseThrow().type()) {
                    return new Replacement(u.node(), u.op(), m, other, true, reader, add.getOutput(0));
                }
            }
        }
        return new Replacement(u.node(), u.op(), m, null, false, -1, node.getOutput(0));
    }

    private static boolean isBias(OnnxModel.Initializer init, Matrix m) {
        return init != null && init.shape().length == 1 && init.shape()[0] == m.n()
                && (init.type() == OnnxType.FLOAT || init.type() == OnnxType.FLOAT16);
    }

    /** The index of the only node reading {@code value}, or -1 when none, several, a subgraph or a graph output do. */
    private static int onlyReader(GraphProto g, String value) {
        for (ValueInfoProto out : g.getOutputList()) {
            if (out.getName().equals(value)) {
                return -1;
            }
        }
        int reader = -1;
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto n = g.getNode(i);
            long reads = n.getInputList().stream().filter(value::equals).count();
            for (AttributeProto a : n.getAttributeList()) {
                for (GraphProto sub : subgraphs(a)) {
                    if (namesRead(sub).contains(value)) {
                        return -1;
                    }
                }
            }
            if (reads > 1 || (reads == 1 && reader >= 0)) {
                return -1;
            }
            if (reads == 1) {
                reader = i;
            }
        }
        return reader;
    }

    private static String key(Use u, Selection selection) {
        QuantLayout layout = selection.layoutOf(u.op());
        return u.orientation() + " " + (layout == null ? "channel" : layout.describe());
    }

    private static Matrix matrix(OnnxModel.Initializer init, Orientation o, QuantLayout layout, int index,
            Set<Form> forms) {
        long[] s = init.shape();
        long n = o == Orientation.ROWS ? s[0] : s[1];
        long k = o == Orientation.ROWS ? s[1] : s[0];
        return new Matrix(init.name(), index == 0 ? init.name() : init.name() + "." + index, o, layout, n, k,
                Collections.unmodifiableSet(EnumSet.copyOf(forms)));
    }

    /** How node {@code i} reads its input {@code j}, an initializer: a product's weight, a table, or neither. */
    private static Use use(OnnxModel model, NodeProto node, int i, int j, Selection selection) throws FormatException {
        String op = node.getOpType();
        boolean standard = node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
        String where = "input " + j + " of " + describe(node);
        if (!standard) {
            return new Use(i, null, null, null, where);
        }
        if (op.equals("MatMul") && j == 1) {
            return new Use(i, Op.MATMUL, Orientation.TRANSPOSED, null, "MatMul B");
        }
        if (op.equals("Gemm") && j == 1) {
            float alpha = floatAttr(model, node, "alpha", 1f);
            float beta = floatAttr(model, node, "beta", 1f);
            long transA = intAttr(model, node, "transA", 0);
            long transB = intAttr(model, node, "transB", 0);
            String bias = node.getInputCount() > 2 && !node.getInput(2).isEmpty() ? node.getInput(2) : null;
            if (transA != 0) {
                return new Use(i, null, null, null, "B of " + describe(node) + " with transA");
            }
            if (alpha != 1f || (bias != null && beta != 1f)) {
                return new Use(i, null, null, null, "B of " + describe(node) + " with alpha " + alpha + ", beta " + beta);
            }
            return new Use(i, Op.GEMM, transB != 0 ? Orientation.ROWS : Orientation.TRANSPOSED, bias,
                    transB != 0 ? "Gemm B (transB)" : "Gemm B");
        }
        if (op.equals("Gather") && j == 0) {
            long axis = intAttr(model, node, "axis", 0);
            if (axis != 0 && axis != -2) {
                return new Use(i, null, null, null, "table of " + describe(node) + " gathered along axis " + axis);
            }
            if (!selection.embeddings()) {
                return new Use(i, null, null, null, "Gather table (--quantize-embeddings)");
            }
            return new Use(i, Op.GATHER, Orientation.ROWS, null, "Gather table");
        }
        return new Use(i, null, null, null, where);
    }

    /** Why an initializer is not quantized whatever reads it, or null. */
    private static String refusal(OnnxModel.Initializer init, Selection selection) {
        if (init.type() != OnnxType.FLOAT && init.type() != OnnxType.FLOAT16) {
            return init.type() == OnnxType.BFLOAT16 ? "BF16 (MatMulNBits takes float32 or float16 activations)"
                    : init.type().displayName();
        }
        if (init.shape().length != 2) {
            return init.shape().length == 1 ? "1-D" : init.shape().length + "-D";
        }
        if (init.elements() < MIN_ELEMENTS) {
            return "tiny (" + init.elements() + " elements)";
        }
        for (Pattern p : selection.keep()) {
            if (p.matcher(init.name()).find()) {
                return "--keep " + p.pattern();
            }
        }
        return null;
    }

    /** Why this use of an otherwise quantizable weight stays float, or null. */
    private static String useRefusal(OnnxModel model, OnnxModel.Initializer init, Use u, Selection selection) {
        NodeProto node = model.graph().getNode(u.node());
        for (Pattern p : selection.keep()) {
            if (!node.getName().isEmpty() && p.matcher(node.getName()).find()) {
                return "--keep " + p.pattern() + " (" + describe(node) + ")";
            }
        }
        if (u.op() != Op.GATHER && selection.dynamic() && init.type() != OnnxType.FLOAT) {
            return init.type().displayName() + " (--dynamic takes float32 activations: DynamicQuantizeLinear)";
        }
        if (u.op() == Op.GATHER && selection.tableLayout() != null) {
            long width = init.shape()[1];
            QuantLayout layout = selection.tableLayout();
            int bits = layout.bits();
            if (width % layout.groupSize() != 0) {
                return "Gather table rows of " + width + " are not whole groups of " + layout.groupSize();
            }
            if (bits == 4 && width % 2 != 0) {
                return "Gather table rows of " + width + " do not fill whole bytes at 4 bits";
            }
        }
        return null;
    }

    private static String quantizedReason(List<Use> uses, List<String> floats, OnnxModel.Initializer init) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Use u : uses) {
            counts.merge(u.description(), 1, Integer::sum);
        }
        List<String> parts = new ArrayList<>();
        counts.forEach((d, c) -> parts.add(d + (c > 1 ? " x" + c : "")));
        String reason = String.join(", ", parts);
        if (!floats.isEmpty()) {
            reason += "; kept " + init.type().displayName() + " too for " + floats.getFirst()
                    + (floats.size() > 1 ? " and " + (floats.size() - 1) + " more" : "");
        }
        return reason;
    }

    /** "MatMul '/encoder/layer.0/MatMul'", or "MatMul node 3" for a node without a name. */
    static String describe(NodeProto node) {
        String op = node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx") ? node.getOpType()
                : node.getDomain() + ":" + node.getOpType();
        return op + (node.getName().isEmpty() ? " node (output '" + (node.getOutputCount() > 0 ? node.getOutput(0) : "")
                + "')" : " '" + node.getName() + "'");
    }

    private static float floatAttr(OnnxModel model, NodeProto node, String name, float fallback) throws FormatException {
        for (AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                if (a.getType() != AttributeProto.AttributeType.FLOAT) {
                    throw new FormatException(model.path(), describe(node) + ": attribute " + name + " is "
                            + a.getType() + ", not FLOAT");
                }
                return a.getF();
            }
        }
        return fallback;
    }

    private static long intAttr(OnnxModel model, NodeProto node, String name, long fallback) throws FormatException {
        for (AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                if (a.getType() != AttributeProto.AttributeType.INT) {
                    throw new FormatException(model.path(), describe(node) + ": attribute " + name + " is "
                            + a.getType() + ", not INT");
                }
                return a.getI();
            }
        }
        return fallback;
    }

    /** The subgraphs an attribute holds (If's branches, Loop's and Scan's bodies). */
    static List<GraphProto> subgraphs(AttributeProto a) {
        List<GraphProto> out = new ArrayList<>();
        if (a.hasG()) {
            out.add(a.getG());
        }
        out.addAll(a.getGraphsList());
        return out;
    }

    /** Every value name the nodes of {@code g} and of its subgraphs read. */
    static Set<String> namesRead(GraphProto g) {
        Set<String> names = new HashSet<>();
        for (NodeProto n : g.getNodeList()) {
            names.addAll(n.getInputList());
            for (AttributeProto a : n.getAttributeList()) {
                for (GraphProto sub : subgraphs(a)) {
                    names.addAll(namesRead(sub));
                }
            }
        }
        return names;
    }

    @Override
    public String toString() {
        return "OnnxWeightPlan" + Arrays.toString(weights.stream().filter(Weight::quantized).map(w -> w.initializer().name())
                .toArray());
    }
}
