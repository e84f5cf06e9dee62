package dev.glimpse.training;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay, computed exactly as torch.optim.AdamW (non-fused, float32): decay the weight,
 * update the moments, then step by lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
 */
public final class AdamW {
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, float[]> m = new LinkedHashMap<>();
    private final Map<String, float[]> v = new LinkedHashMap<>();
    private long step;

    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    public long step() {
        return step;
    }

    public Map<String, float[]> firstMoments() {
        return m;
    }

    public Map<String, float[]> secondMoments() {
        return v;
    }

    /** Restores state saved from {@link #firstMoments()}, {@link #secondMoments()} and {@link #step()}. */
    public void restore(long step, Map<String, float[]> first, Map<String, float[]> second) {
        this.step = step;
        m.clear();
        v.clear();
        first.forEach((k, a) -> m.put(k, a.clone()));
        second.forEach((k, a) -> v.put(k, a.clone()));
    }

    /** One update of every parameter with its gradient at learning rate {@code lr}. */
    public void update(Map<String, float[]> params, Map<String, float[]> grads, double lr) {
        update(params, grads, k -> lr);
    }

    /** One update with a learning rate per parameter (torch's parameter groups). */
    public void update(Map<String, float[]> params, Map<String, float[]> grads,
                       java.util.function.ToDoubleFunction<String> learningRate) {
        step++;
        // the scalars as Python computes them (in double) before torch casts them to float32
        float oneMinusB1 = (float) (1 - beta1);
        float oneMinusB2 = (float) (1 - beta2);
        float b2 = (float) beta2;
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        for (Map.Entry<String, float[]> e : params.entrySet()) {
            double lr = learningRate.applyAsDouble(e.getKey());
            float stepSize = (float) (lr / bc1);
            float decay = (float) (1 - lr * weightDecay);
            float[] p = e.getValue();
            float[] g = grads.get(e.getKey());
            float[] mm = m.computeIfAbsent(e.getKey(), k -> new float[p.length]);
            float[] vv = v.computeIfAbsent(e.getKey(), k -> new float[p.length]);
            for (int i = 0; i < p.length; i++) {
                if (weightDecay != 0) {
                    p[i] *= decay;
                }
                // torch: exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
                mm[i] = mm[i] + oneMinusB1 * (g[i] - mm[i]);
                vv[i] = vv[i] * b2 + oneMinusB2 * g[i] * g[i];
                float denom = (float) Math.sqrt(vv[i]) / bc2Sqrt + (float) eps;
                p[i] = p[i] - stepSize * (mm[i] / denom);
            }
        }
    }
}
