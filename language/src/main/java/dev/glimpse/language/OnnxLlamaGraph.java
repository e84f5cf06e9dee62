package dev.glimpse.language;

import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.OnnxGraph;
import dev.glimpse.core.OnnxGraph.Attribute;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama / Qwen2 / Qwen3 decoder written as an ONNX graph from a checkpoint, in fp32, with standard ONNX ops only.
 * Inputs: input_ids and position_ids [B, T], attention_mask [B, P + T] over the past and the new tokens, and
 * {@code past_key_values.N.key|value} [B, kv, P, hd] (P may be 0). Outputs: logits [B, T, V] and
 * {@code present.N.key|value} [B, kv, P + T, hd] to feed back at the next step. The first step of the ONNX Runtime
 * engine (issue #13): no contrib ops or quantization yet.
 */
final class OnnxLlamaGraph {
    private final LanguageModelConfig c;
    private final Checkpoint ckpt;
    private final OnnxGraph g;
    private int tmp;

    private OnnxLlamaGraph(LanguageModelConfig c, Checkpoint ckpt) {
        this.c = c;
        this.ckpt = ckpt;
        this.g = new OnnxGraph("glimpse-" + c.modelType());
    }

    /** The serialized model for the weights under {@code prefix} (e.g. "model.") and the LM head {@code headKey}. */
    static byte[] build(LanguageModelConfig c, Checkpoint ckpt, String prefix, String headKey) {
        return new OnnxLlamaGraph(c, ckpt).graph(prefix, headKey);
    }

    private byte[] graph(String m, String headKey) {
        int h = c.hiddenSize();
        int nh = c.numAttentionHeads();
        int nkv = c.numKeyValueHeads();
        int hd = c.headDim();
        g.input("input_ids", OnnxGraph.INT64, "batch", "tokens");
        g.input("attention_mask", OnnxGraph.INT64, "batch", "total");
        g.input("position_ids", OnnxGraph.INT64, "batch", "tokens");
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            g.input("past_key_values." + i + ".key", OnnxGraph.FLOAT, "batch", (long) nkv, "past", (long) hd);
            g.input("past_key_values." + i + ".value", OnnxGraph.FLOAT, "batch", (long) nkv, "past", (long) hd);
        }
        g.initializer("axis_last", new long[] {1}, new long[] {-1});
        g.initializer("eps", OnnxGraph.FLOAT, new long[] {}, new float[] {(float) c.rmsNormEps()});
        g.initializer("lowest", OnnxGraph.FLOAT, new long[] {}, new float[] {-Float.MAX_VALUE});
        g.initializer("zero", OnnxGraph.FLOAT, new long[] {}, new float[] {0f});
        g.initializer("scale", OnnxGraph.FLOAT, new long[] {}, new float[] {(float) (1.0 / Math.sqrt(hd))});
        g.initializer("q_shape", new long[] {4}, new long[] {0, 0, nh, hd});
        g.initializer("kv_shape", new long[] {4}, new long[] {0, 0, nkv, hd});
        g.initializer("merge_heads", new long[] {3}, new long[] {0, 0, (long) nh * hd});
        g.initializer("rep_shape", new long[] {4}, new long[] {0, nh, -1, hd});
        g.initializer("half", new long[] {2}, new long[] {hd / 2, hd / 2});
        g.initializer("axis_2", new long[] {1}, new long[] {2});
        rope();
        mask();
        g.initializer("embed_tokens", OnnxGraph.FLOAT, new long[] {c.vocabSize(), h},
                ckpt.toFloats(m + "embed_tokens.weight"));
        g.node("Gather", List.of("embed_tokens", "input_ids"), List.of("x0"));
        String x = "x0";
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = m + "layers." + i + ".";
            String n = rmsNorm(x, p + "input_layernorm.weight");
            String q = heads(linear(n, p + "self_attn.q_proj", nh * hd, h), "q_shape", p + "self_attn.q_norm.weight");
            String k = heads(linear(n, p + "self_attn.k_proj", nkv * hd, h), "kv_shape", p + "self_attn.k_norm.weight");
            String v = transpose(reshape(linear(n, p + "self_attn.v_proj", nkv * hd, h), "kv_shape"), 0, 2, 1, 3);
            q = rotate(q);
            String presentK = "present." + i + ".key";
            String presentV = "present." + i + ".value";
            g.node("Concat", List.of("past_key_values." + i + ".key", rotate(k)), List.of(presentK),
                    Attribute.of("axis", 2L));
            g.node("Concat", List.of("past_key_values." + i + ".value", v), List.of(presentV),
                    Attribute.of("axis", 2L));
            g.output(presentK, OnnxGraph.FLOAT, "batch", (long) nkv, "total", (long) hd);
            g.output(presentV, OnnxGraph.FLOAT, "batch", (long) nkv, "total", (long) hd);
            k = repeat(presentK, nh / nkv);
            v = repeat(presentV, nh / nkv);
            String scores = op("MatMul", List.of(op("Mul", List.of(q, "scale")), transpose(k, 0, 1, 3, 2)));
            String probs = op("Softmax", List.of(op("Add", List.of(scores, "mask"))), Attribute.of("axis", -1L));
            String attn = op("Reshape", List.of(transpose(op("MatMul", List.of(probs, v)), 0, 2, 1, 3),
                    "merge_heads"));
            x = op("Add", List.of(x, linear(attn, p + "self_attn.o_proj", h, nh * hd)));
            String n2 = rmsNorm(x, p + "post_attention_layernorm.weight");
            String gate = linear(n2, p + "mlp.gate_proj", c.intermediateSize(), h);
            String up = linear(n2, p + "mlp.up_proj", c.intermediateSize(), h);
            String act = op("Mul", List.of(op("Mul", List.of(gate, op("Sigmoid", List.of(gate)))), up));
            x = op("Add", List.of(x, linear(act, p + "mlp.down_proj", h, c.intermediateSize())));
        }
        String last = rmsNorm(x, m + "norm.weight");
        String head = c.tieWordEmbeddings() && !ckpt.contains(headKey) ? m + "embed_tokens.weight" : headKey;
        g.initializer("lm_head", OnnxGraph.FLOAT, new long[] {h, c.vocabSize()},
                transposed(ckpt.toFloats(head), c.vocabSize(), h));
        g.node("MatMul", List.of(last, "lm_head"), List.of("logits"));
        g.output("logits", OnnxGraph.FLOAT, "batch", "tokens", (long) c.vocabSize());
        return g.toBytes();
    }

    /** cos and sin [B, 1, T, hd] of each row's positions, from tables over every position (rope scaling included). */
    private void rope() {
        float[] inv = RotaryEmbedding.inverseFrequencies(c);
        int maxPos = c.maxPositionEmbeddings();
        int hd = c.headDim();
        float[] cos = new float[maxPos * hd];
        float[] sin = new float[maxPos * hd];
        for (int pos = 0; pos < maxPos; pos++) {
            for (int j = 0; j < hd; j++) {
                // fp32 products as transformers computes them (positions times inverse frequencies, in float)
                float angle = (float) pos * inv[j % (hd / 2)];
                cos[pos * hd + j] = (float) Math.cos(angle);
                sin[pos * hd + j] = (float) Math.sin(angle);
            }
        }
        g.initializer("cos_table", OnnxGraph.FLOAT, new long[] {maxPos, hd}, cos);
        g.initializer("sin_table", OnnxGraph.FLOAT, new long[] {maxPos, hd}, sin);
        g.initializer("axis_heads", new long[] {1}, new long[] {1});
        g.node("Gather", List.of("cos_table", "position_ids"), List.of("cos3"));
        g.node("Gather", List.of("sin_table", "position_ids"), List.of("sin3"));
        g.node("Unsqueeze", List.of("cos3", "axis_heads"), List.of("cos"));
        g.node("Unsqueeze", List.of("sin3", "axis_heads"), List.of("sin"));
    }

    /**
     * The additive mask [B, 1, T, P + T]: 0 where a query may see a key (key index ≤ P + query index, not padding),
     * fp32's lowest elsewhere.
     */
    private void mask() {
        g.initializer("one_index", new long[] {}, new long[] {1});
        g.initializer("zero_i", new long[] {}, new long[] {0});
        g.initializer("one_i", new long[] {}, new long[] {1});
        g.initializer("axes_0", new long[] {1}, new long[] {0});
        g.initializer("axes_1", new long[] {1}, new long[] {1});
        g.initializer("axes_12", new long[] {2}, new long[] {1, 2});
        g.node("Shape", List.of("input_ids"), List.of("ids_shape"));
        g.node("Gather", List.of("ids_shape", "one_index"), List.of("t"));
        g.node("Shape", List.of("attention_mask"), List.of("mask_shape"));
        g.node("Gather", List.of("mask_shape", "one_index"), List.of("s"));
        g.node("Sub", List.of("s", "t"), List.of("p"));
        g.node("Range", List.of("zero_i", "s", "one_i"), List.of("keys"));
        g.node("Range", List.of("p", "s", "one_i"), List.of("queries"));
        g.node("Unsqueeze", List.of("keys", "axes_0"), List.of("key_idx"));
        g.node("Unsqueeze", List.of("queries", "axes_1"), List.of("query_idx"));
        g.node("LessOrEqual", List.of("key_idx", "query_idx"), List.of("causal"));
        g.node("Cast", List.of("attention_mask"), List.of("keep"), Attribute.of("to", 9L)); // BOOL
        g.node("Unsqueeze", List.of("keep", "axes_12"), List.of("keep4"));
        g.node("And", List.of("causal", "keep4"), List.of("allowed"));
        g.node("Where", List.of("allowed", "zero", "lowest"), List.of("mask"));
    }

    /** RMSNorm over the last axis, then scaled by the weight. */
    private String rmsNorm(String x, String weightKey) {
        String w = weight(weightKey);
        String ms = op("ReduceMean", List.of(op("Mul", List.of(x, x)), "axis_last"), Attribute.of("keepdims", 1L));
        String inv = op("Reciprocal", List.of(op("Sqrt", List.of(op("Add", List.of(ms, "eps"))))));
        return op("Mul", List.of(op("Mul", List.of(x, inv)), w));
    }

    /** x·Wᵀ (+ b): the weight stored transposed [in, out] for MatMul. */
    private String linear(String x, String key, int out, int in) {
        String w = key + ".weight";
        g.initializer(w, OnnxGraph.FLOAT, new long[] {in, out}, transposed(ckpt.toFloats(w), out, in));
        String y = op("MatMul", List.of(x, w));
        if (ckpt.contains(key + ".bias")) {
            y = op("Add", List.of(y, weight(key + ".bias")));
        }
        return y;
    }

    /** [B, T, n·hd] → [B, n, T, hd], with Qwen3's per-head RMSNorm when the checkpoint has one. */
    private String heads(String x, String shape, String normKey) {
        String r = reshape(x, shape);
        if (ckpt.contains(normKey)) {
            r = rmsNorm(r, normKey);
        }
        return transpose(r, 0, 2, 1, 3);
    }

    /** RoPE: x·cos + rotate_half(x)·sin. */
    private String rotate(String x) {
        String a = x + "_a";
        String b = x + "_b";
        g.node("Split", List.of(x, "half"), List.of(a, b), Attribute.of("axis", -1L));
        String rotated = op("Concat", List.of(op("Neg", List.of(b)), a), Attribute.of("axis", -1L));
        return op("Add", List.of(op("Mul", List.of(x, "cos")), op("Mul", List.of(rotated, "sin"))));
    }

    /** [B, kv, T, hd] → [B, kv·n, T, hd], each KV head repeated for its n query heads. */
    private String repeat(String x, int n) {
        if (n == 1) {
            return x;
        }
        String u = op("Unsqueeze", List.of(x, "axis_2"));
        List<String> copies = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            copies.add(u);
        }
        return op("Reshape", List.of(op("Concat", copies, Attribute.of("axis", 2L)), "rep_shape"));
    }

    private String reshape(String x, String shape) {
        return op("Reshape", List.of(x, shape));
    }

    private String transpose(String x, long... perm) {
        return op("Transpose", List.of(x), Attribute.ints("perm", perm));
    }

    private String weight(String key) {
        g.initializer(key, OnnxGraph.FLOAT, ckpt.info(key).shape(), ckpt.toFloats(key));
        return key;
    }

    private String op(String type, List<String> in, Attribute... attrs) {
        String out = "t" + tmp++;
        g.node(type, in, List.of(out), attrs);
        return out;
    }

    private static float[] transposed(float[] w, int rows, int cols) {
        float[] t = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                t[k * rows + r] = w[r * cols + k];
            }
        }
        return t;
    }
}
