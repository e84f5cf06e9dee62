package dev.glimpse.language;

/** Log-probabilities from logits held in Java arrays, computed one way for every caller (scoring, logprobs). */
public final class Logits {
    private Logits() {}

    /** log Σ exp over {@code n} logits from {@code offset}: a token's log-probability is its logit minus this. */
    public static double logNormalizer(float[] logits, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        return max + Math.log(sum);
    }

    /** log Σ exp of {@code values} (e.g. the log-likelihoods of a question's choices). */
    public static double logNormalizer(double[] values) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : values) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum);
    }
}
