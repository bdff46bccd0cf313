package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.runtime.validate.EncoderValidator;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** How validate shows an encoder comparison: a table, or one JSON object (--json FILE, or '-' for stdout instead). */
final class EncoderValidation {
    private EncoderValidation() {}

    static void print(PrintWriter out, String json, Path reference, Path candidate, EncoderValidator.Report r, List<String> failed)
            throws IOException {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("kind", "encoder");
        o.put("reference", reference.toString());
        o.put("candidate", candidate.toString());
        o.put("texts", r.cosines().length);
        ArrayNode cos = o.putArray("cosines");
        for (double c : r.cosines()) {
            cos.add(c);
        }
        o.put("mean_cosine", r.meanCosine());
        o.put("min_cosine", r.minCosine());
        if (r.hasHead()) {
            ObjectNode m = o.putObject("masked_lm");
            m.put("positions", r.positions());
            m.put("top1_agreement", r.agreement());
            m.put("mean_kl", r.meanKl());
            m.put("max_kl", r.maxKl());
        } else {
            o.putNull("masked_lm");
        }
        o.put("pass", failed.isEmpty());
        ArrayNode f = o.putArray("failed");
        failed.forEach(f::add);
        if ("-".equals(json)) {
            out.println(Json.MAPPER.writeValueAsString(o));
            out.flush();
            return;
        }
        out.printf(Locale.ROOT, "reference  %s%ncandidate  %s%n%n", reference, candidate);
        out.printf(Locale.ROOT, "sentence embeddings (mean pooled), %d texts: cosine mean %.6f, min %.6f%n", r.cosines().length,
                r.meanCosine(), r.minCosine());
        if (r.hasHead()) {
            out.printf(Locale.ROOT, "masked-LM head, %d positions: top-1 agreement %.4f, mean KL %.4e, max KL %.4e%n",
                    r.positions(), r.agreement(), r.meanKl(), r.maxKl());
        }
        out.println("result: " + (failed.isEmpty() ? "PASS" : "FAIL"));
        out.flush();
        if (json != null) {
            AtomicOutput.writeString(Path.of(json), Json.MAPPER.writeValueAsString(o) + "\n");
        }
    }
}
