package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.LanguageModelConfig;

/** Rotary position embeddings with transformers' rotate_half layout and its default, linear and llama3 scaling. */
final class RotaryEmbedding {
    private RotaryEmbedding() {}

    /** inv_freq[i] = 1 / theta^(2i/d), rescaled as the config's rope type says. */
    static float[] inverseFrequencies(LanguageModelConfig c) {
        int dim = c.headDim();
        LanguageModelConfig.RopeParameters r = c.rope();
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            // float32 as torch computes it: base ** (arange(0, dim, 2).float() / dim)
            float exponent = (float) (2 * i) / dim;
            inv[i] = (float) (1.0 / Math.pow(r.theta(), exponent));
        }
        switch (r.type()) {
            case "linear" -> {
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = (float) (inv[i] / r.factor());
                }
            }
            case "llama3" -> {
                double old = r.originalMaxPositionEmbeddings();
                double lowWavelen = old / r.lowFreqFactor();
                double highWavelen = old / r.highFreqFactor();
                for (int i = 0; i < inv.length; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    double f = inv[i];
                    if (wavelen > lowWavelen) {
                        f = inv[i] / r.factor();
                    } else if (wavelen >= highWavelen) {
                        double smooth = (old / wavelen - r.lowFreqFactor()) / (r.highFreqFactor() - r.lowFreqFactor());
                        f = (1 - smooth) * inv[i] / r.factor() + smooth * inv[i];
                    }
                    inv[i] = (float) f;
                }
            }
            default -> {
                // default: unscaled
            }
        }
        return inv;
    }

    /** cos and sin [B, 1, T, head_dim] for position ids [B, T]. */
    static NDArray[] cosSin(float[] invFreq, NDArray positions, DataType type) {
        NDArray inv = positions.getManager().create(invFreq);
        NDArray freqs = positions.toType(DataType.FLOAT32, false).expandDims(-1).mul(inv); // [B, T, d/2]
        NDArray emb = freqs.concat(freqs, -1).expandDims(1); // [B, 1, T, d]
        NDArray cos = emb.cos();
        NDArray sin = emb.sin();
        if (type != DataType.FLOAT32) {
            cos = cos.toType(type, false);
            sin = sin.toType(type, false);
        }
        return new NDArray[] {cos, sin};
    }

    /** x * cos + rotate_half(x) * sin, with x [B, heads, T, d]. */
    static NDArray apply(NDArray x, NDArray[] cosSin) {
        long d = x.getShape().get(3);
        NDArray x1 = x.get("..., :" + d / 2);
        NDArray x2 = x.get("..., " + d / 2 + ":");
        NDArray rotated = x2.neg().concat(x1, -1);
        return x.mul(cosSin[0]).add(rotated.mul(cosSin[1]));
    }
}
