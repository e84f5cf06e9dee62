package dev.glimpse.vision;

/**
 * Patch features of a batch of images, [batch, tokens, dim] row-major, and the pooled output [batch, pooledDim]
 * when the tower has one (null otherwise).
 */
public record Features(float[] values, int batch, int tokens, int dim, float[] pooled) {
    public Features {
        if (values.length != (long) batch * tokens * dim) {
            throw new IllegalArgumentException("features hold " + values.length + " values, not " + batch + "x"
                    + tokens + "x" + dim);
        }
    }

    /** The features of image {@code b}: [tokens, dim]. */
    public float[] image(int b) {
        float[] out = new float[tokens * dim];
        System.arraycopy(values, b * tokens * dim, out, 0, out.length);
        return out;
    }

    /** Drops the first token (CLIP's CLS) of every image. */
    public Features dropFirstToken() {
        float[] out = new float[batch * (tokens - 1) * dim];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(values, (b * tokens + 1) * dim, out, b * (tokens - 1) * dim, (tokens - 1) * dim);
        }
        return new Features(out, batch, tokens - 1, dim, pooled);
    }
}
