package dev.glimpse.language;

import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.OnnxGraph;
import dev.glimpse.core.OnnxGraph.Attribute;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama / Qwen2 / Qwen3 decoder written as an ONNX graph from a checkpoint, as onnxruntime-genai's model builder
 * does in Python. Inputs: {@code input_ids} and {@code position_ids} [B, T]; {@code inputs_embeds} [B, T, H] (or
 * [1, 1, H], broadcast) whose rows replace the embeddings of ids below 0, which is how images enter;
 * {@code attention_mask} [B, P + T] over past and new tokens; {@code logits_to_keep} [1] (logits of the last n
 * positions only: 1 while generating); {@code past_key_values.N.key|value} [B, kv, P, hd]. Outputs: {@code logits}
 * [B, n, V] and {@code present.N.key|value} [B, kv, P + T, hd].
 *
 * <p>Matrix weights are stored per {@link WeightFormat}: fp32 / fp16 for MatMul, or block-quantized codes for ONNX
 * Runtime's MatMulNBits. Norms use ONNX Runtime's fused SimplifiedLayerNormalization and
 * SkipSimplifiedLayerNormalization (the residual add folded in). Attention and RoPE stay in standard ops: on CPU
 * they are a few percent of the work at the sizes we serve (the matrix products dominate), and standard ops keep
 * left padding exact for batched scoring.
 */
final class OnnxLlamaGraph {
    /** What to build: the weight format, MatMulNBits' block size and accuracy level (4 = int8 activations). */
    record Options(WeightFormat weights, int blockSize, int accuracyLevel) {}

    /** Where the weights come from: a checkpoint, possibly with LoRA merged in. */
    interface Source {
        boolean contains(String key);

        long[] shape(String key);

        float[] floats(String key);
    }

    private static final String MS = "com.microsoft";

    private final LanguageModelConfig c;
    private final Source src;
    private final Options o;
    private final OnnxGraph g;
    private int tmp;

    private OnnxLlamaGraph(LanguageModelConfig c, Source src, Options o, OnnxGraph g) {
        this.c = c;
        this.src = src;
        this.o = o;
        this.g = g;
    }

    /**
     * Adds the decoder of the weights under {@code prefix} (e.g. "model.") with the LM head {@code headKey} to
     * {@code g} (fresh, possibly with external data).
     */
    static void build(OnnxGraph g, LanguageModelConfig c, Source src, Options o, String prefix, String headKey) {
        new OnnxLlamaGraph(c, src, o, g).graph(prefix, headKey);
    }

    private void graph(String m, String headKey) {
        inputs();
        constants();
        embeddings(LlamaTensors.embedTokens(m));
        String x = "x0";
        String n = op("SimplifiedLayerNormalization", List.of(x, weight(LlamaTensors.inputLayernorm(m, 0))),
                Attribute.of("axis", -1L), Attribute.of("epsilon", (float) c.rmsNormEps()));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String[] r = layer(m, i, n, x);
            n = r[0];
            x = r[1];
        }
        head(m, headKey, n);
    }

    /** The graph's inputs: ids, embeddings, mask, positions, logits to keep, and each layer's past keys and values. */
    private void inputs() {
        g.input("input_ids", OnnxGraph.INT64, "batch", "tokens");
        g.input("inputs_embeds", OnnxGraph.FLOAT, "embeds_batch", "embeds_tokens", (long) c.hiddenSize());
        g.input("attention_mask", OnnxGraph.INT64, "batch", "total");
        g.input("position_ids", OnnxGraph.INT64, "batch", "tokens");
        g.input("logits_to_keep", OnnxGraph.INT64, 1L);
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            g.input("past_key_values." + i + ".key", OnnxGraph.FLOAT, "batch", (long) c.numKeyValueHeads(), "past",
                    (long) c.headDim());
            g.input("past_key_values." + i + ".value", OnnxGraph.FLOAT, "batch", (long) c.numKeyValueHeads(), "past",
                    (long) c.headDim());
        }
    }

    /** Shapes and scalars every layer shares, the rotary tables and the attention mask (once per query group). */
    private void constants() {
        int nh = c.numAttentionHeads();
        int nkv = c.numKeyValueHeads();
        int hd = c.headDim();
        g.initializer("lowest", OnnxGraph.FLOAT, new long[] {}, new float[] {-Float.MAX_VALUE});
        g.initializer("zero", OnnxGraph.FLOAT, new long[] {}, new float[] {0f});
        g.initializer("scale", OnnxGraph.FLOAT, new long[] {}, new float[] {(float) (1.0 / Math.sqrt(hd))});
        g.initializer("q_shape", new long[] {4}, new long[] {0, 0, nh, hd});
        g.initializer("kv_shape", new long[] {4}, new long[] {0, 0, nkv, hd});
        g.initializer("merge_heads", new long[] {3}, new long[] {0, 0, (long) nh * hd});
        g.initializer("axis_last", new long[] {1}, new long[] {-1});
        rope();
        mask();
        g.initializer("group_shape", new long[] {4}, new long[] {0, nkv, -1, hd});
        g.initializer("ungroup_shape", new long[] {4}, new long[] {0, nh, -1, hd});
        List<String> masks = new ArrayList<>();
        for (int r = 0; r < nh / nkv; r++) {
            masks.add("mask"); // the mask of the T query rows, once per query head of a group
        }
        g.node("Concat", masks, List.of("group_mask"), Attribute.of("axis", 2L));
    }

    /**
     * Decoder layer {@code i} over the normed input {@code n} and the residual stream {@code x}: attention with its
     * present keys and values as outputs, then the MLP. Returns the next layer's normed input and the stream.
     */
    private String[] layer(String m, int i, String n, String x) {
        int h = c.hiddenSize();
        int nh = c.numAttentionHeads();
        int nkv = c.numKeyValueHeads();
        int hd = c.headDim();
        // q, k and v from one product (one pass over the input, one kernel call), split after
        String[] qkv = fused(n, h, m, i, new String[] {"q_proj", "k_proj", "v_proj"},
                new int[] {nh * hd, nkv * hd, nkv * hd});
        String q = heads(qkv[0], "q_shape", LlamaTensors.headNorm(m, i, 'q'));
        String k = heads(qkv[1], "kv_shape", LlamaTensors.headNorm(m, i, 'k'));
        String v = transpose(reshape(qkv[2], "kv_shape"), 0, 2, 1, 3);
        q = rotate(q);
        String presentK = "present." + i + ".key";
        String presentV = "present." + i + ".value";
        g.node("Concat", List.of("past_key_values." + i + ".key", rotate(k)), List.of(presentK),
                Attribute.of("axis", 2L));
        g.node("Concat", List.of("past_key_values." + i + ".value", v), List.of(presentV), Attribute.of("axis", 2L));
        g.output(presentK, OnnxGraph.FLOAT, "batch", (long) nkv, "total", (long) hd);
        g.output(presentV, OnnxGraph.FLOAT, "batch", (long) nkv, "total", (long) hd);
        // grouped-query attention without copying keys and values per query head: the query heads sharing a KV head
        // are stacked along the rows ([B, kv, rep·T, hd]), attend to that head, and are unstacked
        String grouped = op("Reshape", List.of(op("Mul", List.of(q, "scale")), "group_shape"));
        String scores = op("MatMul", List.of(grouped, transpose(presentK, 0, 1, 3, 2)));
        String probs = op("Softmax", List.of(op("Add", List.of(scores, "group_mask"))), Attribute.of("axis", -1L));
        String heads = op("Reshape", List.of(op("MatMul", List.of(probs, presentV)), "ungroup_shape"));
        String attn = op("Reshape", List.of(transpose(heads, 0, 2, 1, 3), "merge_heads"));
        String[] r = skipNorm(linear(attn, LlamaTensors.linear(m, i, "o_proj"), h, nh * hd), x,
                LlamaTensors.postAttentionLayernorm(m, i));
        String[] gateUp = fused(r[0], h, m, i, new String[] {"gate_proj", "up_proj"},
                new int[] {c.intermediateSize(), c.intermediateSize()});
        String act = op("Mul", List.of(op("Mul", List.of(gateUp[0], op("Sigmoid", List.of(gateUp[0])))), gateUp[1]));
        String next = i + 1 < c.numHiddenLayers() ? LlamaTensors.inputLayernorm(m, i + 1) : LlamaTensors.norm(m);
        return skipNorm(linear(act, LlamaTensors.linear(m, i, "down_proj"), h, c.intermediateSize()), r[1], next);
    }

    /** The LM head over the kept last positions of the final normed state {@code n}. */
    private void head(String m, String headKey, String n) {
        // the final norm is per position, so keeping the last positions before the head gives the same logits
        g.initializer("slice_end", new long[] {1}, new long[] {Long.MAX_VALUE});
        g.initializer("axis_1", new long[] {1}, new long[] {1});
        String kept = op("Slice", List.of(n, op("Neg", List.of("logits_to_keep")), "slice_end", "axis_1"));
        String head = c.tieWordEmbeddings() && !src.contains(headKey) ? LlamaTensors.embedTokens(m) : headKey;
        // int4 models keep the LM head at 8 bits, as llama.cpp's Q4_0 keeps its output matrix at 6: the logits are
        // what every answer is read from, and the head is a small part of a large model's bytes
        WeightFormat headFormat = o.weights() == WeightFormat.INT4 ? WeightFormat.INT8 : o.weights();
        g.node("Identity", List.of(linearWeights(kept, head, c.vocabSize(), c.hiddenSize(), headFormat)),
                List.of("logits"));
        g.output("logits", OnnxGraph.FLOAT, "batch", "kept", (long) c.vocabSize());
    }

    /**
     * x0 [B, T, H]: the embedding of each id, or the row of inputs_embeds where the id is below 0. The table stays
     * fp32 for fp32 weights and is fp16 otherwise (rows are gathered, then widened).
     */
    private void embeddings(String key) {
        int v = c.vocabSize();
        int h = c.hiddenSize();
        float[] table = src.floats(key);
        boolean half = o.weights() != WeightFormat.FP32;
        g.initializer("embed_tokens", half ? OnnxGraph.FLOAT16 : OnnxGraph.FLOAT, new long[] {v, h}, table);
        g.initializer("zero_id", new long[] {}, new long[] {0});
        g.node("Max", List.of("input_ids", "zero_id"), List.of("table_ids"));
        String rows = op("Gather", List.of("embed_tokens", "table_ids"));
        if (half) {
            rows = op("Cast", List.of(rows), Attribute.of("to", (long) OnnxGraph.FLOAT));
        }
        String spliced = op("Unsqueeze", List.of(op("Less", List.of("input_ids", "zero_id")), "axis_last"));
        g.node("Where", List.of(spliced, "inputs_embeds", rows), List.of("x0"));
    }

    /** cos and sin [B, 1, T, hd] of each row's positions, from tables over every position (rope scaling included). */
    private void rope() {
        float[] inv = RotaryEmbedding.inverseFrequencies(c);
        int maxPos = c.maxPositionEmbeddings();
        int hd = c.headDim();
        int half = hd / 2;
        float[] cos = new float[maxPos * half];
        float[] sin = new float[maxPos * half];
        for (int pos = 0; pos < maxPos; pos++) {
            for (int j = 0; j < half; j++) {
                // fp32 products as transformers computes them (positions times inverse frequencies, in float)
                float angle = (float) pos * inv[j];
                cos[pos * half + j] = (float) Math.cos(angle);
                sin[pos * half + j] = (float) Math.sin(angle);
            }
        }
        // ONNX Runtime's RotaryEmbedding takes half-width tables and rotates the two halves (rotate_half)
        g.initializer("cos_cache", OnnxGraph.FLOAT, new long[] {maxPos, half}, cos);
        g.initializer("sin_cache", OnnxGraph.FLOAT, new long[] {maxPos, half}, sin);
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

    /** RMSNorm(x + skip) and x + skip, in one fused op. */
    private String[] skipNorm(String x, String skip, String weightKey) {
        String normed = "t" + tmp++;
        String sum = "t" + tmp++;
        g.node(MS, "SkipSimplifiedLayerNormalization", List.of(x, skip, weight(weightKey)),
                List.of(normed, "", "", sum), Attribute.of("epsilon", (float) c.rmsNormEps()));
        return new String[] {normed, sum};
    }

    /**
     * Several linear layers over the same input as one product: their weights (and biases) stacked along the
     * output, the result split back. The stacked matrix is quantized row by row, exactly as the parts would be.
     */
    private String[] fused(String x, int in, String prefix, int layer, String[] names, int[] outs) {
        int total = 0;
        for (int o : outs) {
            total += o;
        }
        float[] w = new float[Math.multiplyExact(total, in)];
        float[] b = null;
        int row = 0;
        for (int i = 0; i < names.length; i++) {
            String module = LlamaTensors.linear(prefix, layer, names[i]);
            System.arraycopy(src.floats(module + ".weight"), 0, w, row * in, outs[i] * in);
            if (src.contains(module + ".bias")) {
                if (b == null) {
                    b = new float[total];
                }
                System.arraycopy(src.floats(module + ".bias"), 0, b, row, outs[i]);
            }
            row += outs[i];
        }
        String first = LlamaTensors.linear(prefix, layer, names[0]); // the fused module is named after all parts
        String key = first.substring(0, first.length() - names[0].length()) + String.join("_", names);
        String y = linearWeights(x, key, w, total, in, o.weights());
        if (b != null) {
            g.initializer(key + ".bias", OnnxGraph.FLOAT, new long[] {total}, b);
            y = op("Add", List.of(y, key + ".bias"));
        }
        long[] sizes = new long[outs.length];
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < outs.length; i++) {
            sizes[i] = outs[i];
            parts.add("t" + tmp++);
        }
        g.initializer(key + ".split", new long[] {sizes.length}, sizes);
        g.node("Split", List.of(y, key + ".split"), parts, Attribute.of("axis", -1L));
        return parts.toArray(new String[0]);
    }

    /** x·Wᵀ (+ b). */
    private String linear(String x, String key, int out, int in) {
        String y = linearWeights(x, key + ".weight", out, in, o.weights());
        if (src.contains(key + ".bias")) {
            y = op("Add", List.of(y, weight(key + ".bias")));
        }
        return y;
    }

    /** x·Wᵀ for the checkpoint matrix {@code key} [out, in], stored as {@code format}. */
    private String linearWeights(String x, String key, int out, int in, WeightFormat format) {
        return linearWeights(x, key, src.floats(key), out, in, format);
    }

    private String linearWeights(String x, String key, float[] w, int out, int in, WeightFormat format) {
        String name = key.replace('.', '_');
        switch (format) {
            case FP32, FP16 -> {
                boolean half = format == WeightFormat.FP16;
                g.initializer(name, half ? OnnxGraph.FLOAT16 : OnnxGraph.FLOAT, new long[] {in, out},
                        transposed(w, out, in));
                String wt = half ? op("Cast", List.of(name), Attribute.of("to", (long) OnnxGraph.FLOAT)) : name;
                return op("MatMul", List.of(x, wt));
            }
            default -> {
                BlockQuantizer.Quantized q = BlockQuantizer.quantize(w, out, in, format.bits(), o.blockSize());
                // 8-bit weights with fp32 activations run as two 4-bit halves (see Quantized.nibbles)
                boolean split = q.bits() == 8 && o.accuracyLevel() != 4;
                if (split) {
                    q = q.nibbles();
                }
                g.initializer(name + "_codes", OnnxGraph.UINT8, new long[] {q.n(), q.blocks(), q.blobSize()},
                        ByteBuffer.wrap(q.codes()));
                ByteBuffer s = ByteBuffer.allocate(q.scales().length * 4).order(ByteOrder.LITTLE_ENDIAN);
                s.asFloatBuffer().put(q.scales());
                g.initializer(name + "_scales", OnnxGraph.FLOAT, new long[] {q.n(), q.blocks()}, s);
                List<String> inputs = new ArrayList<>(List.of(x, name + "_codes", name + "_scales"));
                if (q.zeroPoints() != null) {
                    g.initializer(name + "_zero_points", OnnxGraph.UINT8,
                            new long[] {q.n(), q.zeroPoints().length / q.n()}, ByteBuffer.wrap(q.zeroPoints()));
                    inputs.add(name + "_zero_points");
                }
                String y = "t" + tmp++;
                g.node(MS, "MatMulNBits", inputs, List.of(y),
                        Attribute.of("K", (long) in), Attribute.of("N", (long) q.n()),
                        Attribute.of("bits", (long) q.bits()), Attribute.of("block_size", (long) o.blockSize()),
                        Attribute.of("accuracy_level", (long) o.accuracyLevel()));
                if (split) {
                    String hi = "t" + tmp++;
                    String lo = "t" + tmp++;
                    g.node("Split", List.of(y), List.of(hi, lo), Attribute.of("axis", -1L),
                            Attribute.of("num_outputs", 2L));
                    y = op("Add", List.of(hi, lo));
                }
                return y;
            }
        }
    }

    /** [B, T, n·hd] → [B, n, T, hd], with Qwen3's per-head RMSNorm when the checkpoint has one. */
    private String heads(String x, String shape, String normKey) {
        String r = reshape(x, shape);
        if (src.contains(normKey)) {
            r = op("SimplifiedLayerNormalization", List.of(r, weight(normKey)), Attribute.of("axis", -1L),
                    Attribute.of("epsilon", (float) c.rmsNormEps()));
        }
        return transpose(r, 0, 2, 1, 3);
    }

    /** RoPE, x·cos + rotate_half(x)·sin, on [B, heads, T, hd] by ONNX Runtime's fused RotaryEmbedding. */
    private String rotate(String x) {
        String y = "t" + tmp++;
        g.node(MS, "RotaryEmbedding", List.of(x, "position_ids", "cos_cache", "sin_cache"), List.of(y),
                Attribute.of("interleaved", 0L));
        return y;
    }

    private String reshape(String x, String shape) {
        return op("Reshape", List.of(x, shape));
    }

    private String transpose(String x, long... perm) {
        return op("Transpose", List.of(x), Attribute.ints("perm", perm));
    }

    private String weight(String key) {
        g.initializer(key, OnnxGraph.FLOAT, src.shape(key), src.floats(key));
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
