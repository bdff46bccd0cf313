package dev.arica.runtime.validate;

import dev.arica.runtime.encode.OnnxEncoder;
import dev.arica.runtime.encode.Pooling;
import dev.arica.runtime.generate.Sampler;
import java.io.IOException;
import java.util.List;

/**
 * An encoder candidate against its reference on the same texts: the cosine of their sentence embeddings (mean pooled)
 * per text, and, when both have a masked-LM head, the top-1 agreement and KL(P_ref || P_cand) of their token
 * distributions at every position.
 */
public final class EncoderValidator {
    private EncoderValidator() {}

    /** One text as ids and token types (null: all zeros). */
    public record Text(long[] ids, long[] types) {}

    /**
     * The figures; {@code agreement} and {@code meanKl} are NaN when a model has no masked-LM head.
     *
     * @param cosines each text's cosine, in order
     */
    public record Report(double[] cosines, double meanCosine, double minCosine, long positions, double agreement,
            double meanKl, double maxKl) {
        public Report {
            cosines = cosines.clone();
        }

        @Override
        public double[] cosines() {
            return cosines.clone();
        }

        public boolean hasHead() {
            return !Double.isNaN(agreement);
        }
    }

    public static Report validate(OnnxEncoder reference, OnnxEncoder candidate, List<Text> texts) throws IOException {
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("no texts to compare on");
        }
        boolean head = reference.hasLogits() && candidate.hasLogits();
        double[] cosines = new double[texts.size()];
        long positions = 0, agreeing = 0;
        double klSum = 0, klMax = 0;
        for (int t = 0; t < texts.size(); t++) {
            Text text = texts.get(t);
            OnnxEncoder.Output r = reference.run(text.ids(), null, reference.takesTokenTypes() ? text.types() : null);
            OnnxEncoder.Output c = candidate.run(text.ids(), null, candidate.takesTokenTypes() ? text.types() : null);
            cosines[t] = Pooling.cosine(Pooling.MEAN.pool(r.hidden(), null), Pooling.MEAN.pool(c.hidden(), null));
            if (head) {
                int vocab = r.logits()[0].length;
                double[] logP = new double[vocab], logQ = new double[vocab];
                for (int i = 0; i < r.logits().length; i++) {
                    Divergence.logSoftmax(r.logits()[i], logP);
                    Divergence.logSoftmax(c.logits()[i], logQ);
                    double kl = Divergence.kl(logP, logQ);
                    klSum += kl;
                    klMax = Math.max(klMax, kl);
                    agreeing += Sampler.argmax(r.logits()[i]) == Sampler.argmax(c.logits()[i]) ? 1 : 0;
                    positions++;
                }
            }
        }
        double mean = 0, min = 1;
        for (double x : cosines) {
            mean += x / cosines.length;
            min = Math.min(min, x);
        }
        return new Report(cosines, mean, min, positions, head ? (double) agreeing / positions : Double.NaN,
                head ? klSum / positions : Double.NaN, head ? klMax : Double.NaN);
    }
}
