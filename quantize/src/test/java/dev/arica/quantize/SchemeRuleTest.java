package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Per-tensor layouts: the first matching rule, else the scheme; the options refuse what cannot be written. */
class SchemeRuleTest {
    static final QuantLayout INT4 = new QuantLayout(Scheme.INT4, 64, true);
    static final QuantLayout INT8 = new QuantLayout(Scheme.INT8, 64, true);
    static final QuantLayout Q8 = QuantLayout.of(Scheme.Q8_0);

    @Test
    void theFirstMatchingRuleWinsAndTheSchemeTakesTheRest() {
        CheckpointQuantizer.Options o = CheckpointQuantizer.Options.of(INT4).withRules(List.of(
                new SchemeRule(Pattern.compile("k_proj"), INT8), new SchemeRule(Pattern.compile("_proj"), Q8)));
        assertEquals(INT8, o.layoutOf("model.layers.0.self_attn.k_proj.weight"));
        assertEquals(Q8, o.layoutOf("model.layers.0.self_attn.v_proj.weight"));
        assertEquals(INT4, o.layoutOf("model.layers.0.mlp.w1.weight"));
        assertEquals("k_proj=int8 g64 asym", o.rules().getFirst().describe());
        assertEquals(INT4, o.withMethod(Method.RTN, null).layoutOf("x.weight"), "withMethod keeps the rules");
        assertEquals(INT8, o.withMethod(Method.RTN, null).layoutOf("k_proj"));
    }

    @Test
    void rulesNeedASchemeAndCalibratedMethodsRefuseQ8_0() {
        CheckpointQuantizer.Options none = CheckpointQuantizer.Options.of(null);
        assertNull(none.layoutOf("k_proj"));
        assertThrows(IllegalArgumentException.class,
                () -> none.withRules(List.of(new SchemeRule(Pattern.compile("k"), INT8))));
        Calibration c = new Calibration() {
            @Override
            public Optional<InputStatistics> inputs(String tensor) {
                return Optional.empty();
            }

            @Override
            public String describe() {
                return "none";
            }
        };
        CheckpointQuantizer.Options gptq = CheckpointQuantizer.Options.of(INT4).withMethod(Method.GPTQ, c);
        assertEquals(INT8, gptq.withRules(List.of(new SchemeRule(Pattern.compile("k"), INT8))).layoutOf("k"));
        assertThrows(IllegalArgumentException.class,
                () -> gptq.withRules(List.of(new SchemeRule(Pattern.compile("k"), Q8))));
    }
}
