package dev.glimpse.training;

import java.util.Map;

/**
 * Dynamic loss scaling for fp16 training, as torch.amp.GradScaler does it: the loss is multiplied by the scale before
 * the backward pass so that small gradients survive fp16's narrow range; the gradients are divided by it again in
 * fp32; a step whose gradients overflowed (inf or NaN) is skipped and the scale halved; after
 * {@code growthInterval} good steps in a row the scale doubles. bf16 and fp32 have fp32's range and need none
 * ({@link #disabled()}).
 *
 * <p>Not thread-safe: one per training run.
 */
public final class LossScaler {
    private final boolean enabled;
    private final int growthInterval;
    private double scale;
    private int goodSteps;

    private LossScaler(boolean enabled, double scale, int growthInterval) {
        if (enabled && !(scale > 0) || growthInterval < 1) {
            throw new IllegalArgumentException("loss scale must be > 0 and growth interval >= 1");
        }
        this.enabled = enabled;
        this.scale = enabled ? scale : 1;
        this.growthInterval = growthInterval;
    }

    /** Scaling from {@code initialScale}, doubled after {@code growthInterval} good steps (torch: 65536, 2000). */
    public static LossScaler dynamic(double initialScale, int growthInterval) {
        return new LossScaler(true, initialScale, growthInterval);
    }

    /** No scaling: every step is taken. */
    public static LossScaler disabled() {
        return new LossScaler(false, 1, 1);
    }

    public boolean enabled() {
        return enabled;
    }

    /** What the loss is multiplied by before the backward pass. */
    public double scale() {
        return scale;
    }

    /** Good steps since the scale last changed. */
    public int goodSteps() {
        return goodSteps;
    }

    /** Restores a checkpointed state. */
    public void restore(double scale, int goodSteps) {
        if (enabled) {
            this.scale = scale;
            this.goodSteps = goodSteps;
        }
    }

    /**
     * Divides the (summed, scaled) gradients by the scale in place and says whether all of them are finite; when not,
     * the step must be skipped. Call {@link #update} with the answer afterwards.
     */
    public boolean unscale(Map<String, float[]> grads) {
        if (!enabled) {
            return true;
        }
        float inv = (float) (1 / scale);
        boolean finite = true;
        for (float[] g : grads.values()) {
            for (int i = 0; i < g.length; i++) {
                g[i] *= inv;
                finite &= Float.isFinite(g[i]);
            }
        }
        return finite;
    }

    /** After a step: back off on overflow, grow after a run of good steps. */
    public void update(boolean finite) {
        if (!enabled) {
            return;
        }
        if (!finite) {
            scale *= 0.5;
            goodSteps = 0;
        } else if (++goodSteps >= growthInterval) {
            scale *= 2;
            goodSteps = 0;
        }
    }
}
