package dev.glimpse.language;

import java.util.Arrays;
import java.util.Random;

/** Picks a token from one row of logits: argmax, or temperature → top-k → top-p sampling. */
final class Sampler {
    private Sampler() {}

    /** The first index of the largest logit (torch.argmax's choice on ties). */
    static int argmax(float[] logits, int offset, int n) {
        int best = 0;
        float max = logits[offset];
        for (int i = 1; i < n; i++) {
            if (logits[offset + i] > max) {
                max = logits[offset + i];
                best = i;
            }
        }
        return best;
    }

    static int sample(float[] logits, int offset, int n, GenerationOptions o, Random random) {
        double[] scaled = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            scaled[i] = logits[offset + i] / o.temperature();
            max = Math.max(max, scaled[i]);
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(scaled[b], scaled[a]));
        int keep = o.topK() > 0 ? Math.min(o.topK(), n) : n;
        double[] probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            probs[i] = Math.exp(scaled[order[i]] - max);
            sum += probs[i];
        }
        if (o.topP() < 1.0) {
            double cum = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++) {
                cum += probs[i] / sum;
                if (cum >= o.topP()) {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) {
                sum += probs[i];
            }
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            u -= probs[i];
            if (u <= 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
