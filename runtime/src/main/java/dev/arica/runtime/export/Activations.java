package dev.arica.runtime.export;

import dev.arica.formats.model.DecoderConfig;
import java.util.List;

/** The activations of the models arica exports, from standard ONNX operators; every graph kind makes them here. */
final class Activations {
    private Activations() {}

    /** {@code kind}(x) as a node named {@code name}. */
    static String standard(GraphBuilder g, DecoderConfig.Activation kind, String name, String x) {
        return switch (kind) {
            case SILU -> g.node("Mul", name, List.of(x, g.node("Sigmoid", name + "/sigmoid", x)));
            case GELU_TANH -> {
                // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
                String cube = g.node("Mul", name + "/cube", List.of(g.node("Mul", name + "/square", List.of(x, x)), x));
                String inner = g.node("Add", name + "/inner", List.of(x, g.node("Mul", name + "/cube_scaled",
                        List.of(cube, g.scalar(name + "/c", 0.044715f)))));
                String tanh = g.node("Tanh", name + "/tanh", g.node("Mul", name + "/scaled",
                        List.of(inner, g.scalar(name + "/sqrt_2_pi", (float) Math.sqrt(2 / Math.PI)))));
                yield halfTimesOnePlus(g, name, x, tanh);
            }
            case GELU_EXACT -> {
                // 0.5 x (1 + erf(x / sqrt(2)))
                String erf = g.node("Erf", name + "/erf", g.node("Div", name + "/scaled",
                        List.of(x, g.scalar(name + "/sqrt2", (float) Math.sqrt(2)))));
                yield halfTimesOnePlus(g, name, x, erf);
            }
        };
    }

    /** {@code kind}(x) as one of ONNX Runtime's fused operators (com.microsoft QuickGelu, FastGelu, Gelu). */
    static String fused(GraphBuilder g, DecoderConfig.Activation kind, String name, String x) {
        switch (kind) {
            case SILU -> g.node(DecoderGraph.MS_DOMAIN, "QuickGelu", List.of(name), List.of(x), GraphBuilder.attr("alpha", 1f));
            case GELU_TANH -> g.node(DecoderGraph.MS_DOMAIN, "FastGelu", List.of(name), List.of(x));
            case GELU_EXACT -> g.node(DecoderGraph.MS_DOMAIN, "Gelu", List.of(name), List.of(x));
        }
        return name;
    }

    /** 0.5 x (1 + t). */
    private static String halfTimesOnePlus(GraphBuilder g, String name, String x, String t) {
        String onePlus = g.node("Add", name + "/one_plus", List.of(t, g.scalar(name + "/one", 1f)));
        return g.node("Mul", name, List.of(g.node("Mul", name + "/half_x", List.of(x, g.scalar(name + "/half", 0.5f))), onePlus));
    }
}
