package dev.arica.quantize;

import java.util.Locale;
import java.util.Optional;

/** How the codes of a group are chosen. */
public enum Method {
    /** Round to nearest on the scheme's own scale: no calibration. */
    RTN("rtn"),
    /** Per group, the scale (and zero point) of least squared error weighted by the input channels' importance. */
    SEARCH("search"),
    /** GPTQ (Frantar et al. 2022): column by column with the rounding error fed back through the inverse Hessian. */
    GPTQ("gptq");

    /** The name the command line and the reports use. */
    public final String id;

    Method(String id) {
        this.id = id;
    }

    /** Whether the method needs statistics of the layers' inputs. */
    public boolean calibrated() {
        return this != RTN;
    }

    public static Optional<Method> parse(String s) {
        String id = s.toLowerCase(Locale.ROOT);
        for (Method m : values()) {
            if (m.id.equals(id)) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }
}
