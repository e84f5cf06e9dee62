package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.LanguageModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The Llama-family decoder, read top to bottom like transformers' modeling_llama.py: embeddings, N decoder layers
 * (RMSNorm → attention with rotary positions and grouped KV heads → residual; RMSNorm → SiLU-gated MLP →
 * residual), a final RMSNorm and the LM head. Field names follow the checkpoint keys.
 *
 * <p>The families differ in three places only: Qwen2 adds biases to q/k/v_proj; Qwen3 adds q_norm/k_norm
 * (RMSNorm over head_dim before the rotation) and an explicit head_dim; tied models reuse embed_tokens as lm_head.
 *
 * <p>Weights are plain arrays that never require gradients: the model is frozen by construction, while gradients
 * still flow to {@code inputs_embeds} when the caller attaches one.
 */
final class LlamaModel {
    /** One decoder layer's weights, named after {@code model.layers.N.*}. */
    private record Layer(NDArray inputLayernorm, NDArray qProj, NDArray qBias, NDArray kProj, NDArray kBias,
                         NDArray vProj, NDArray vBias, NDArray oProj, NDArray qNorm, NDArray kNorm,
                         NDArray postAttentionLayernorm, NDArray gateProj, NDArray upProj, NDArray downProj) {}

    final LanguageModelConfig config;
    private final NDArray embedTokens;
    private final List<Layer> layers = new ArrayList<>();
    private final NDArray norm;
    private final NDArray lmHead;
    private final float[] invFreq;

    LlamaModel(LanguageModelConfig c, Checkpoint ckpt, NDManager weights, DataType dtype, String prefix,
               String headKey) {
        this.config = c;
        int h = c.hiddenSize();
        int q = c.numAttentionHeads() * c.headDim();
        int kv = c.numKeyValueHeads() * c.headDim();
        String m = prefix;
        embedTokens = load(ckpt, weights, dtype, m + "embed_tokens.weight", c.vocabSize(), h);
        boolean qwen3 = c.modelType().equals("qwen3");
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = m + "layers." + i + ".";
            layers.add(new Layer(
                    load(ckpt, weights, dtype, p + "input_layernorm.weight", h),
                    load(ckpt, weights, dtype, p + "self_attn.q_proj.weight", q, h),
                    c.attentionBias() ? load(ckpt, weights, dtype, p + "self_attn.q_proj.bias", q) : null,
                    load(ckpt, weights, dtype, p + "self_attn.k_proj.weight", kv, h),
                    c.attentionBias() ? load(ckpt, weights, dtype, p + "self_attn.k_proj.bias", kv) : null,
                    load(ckpt, weights, dtype, p + "self_attn.v_proj.weight", kv, h),
                    c.attentionBias() ? load(ckpt, weights, dtype, p + "self_attn.v_proj.bias", kv) : null,
                    load(ckpt, weights, dtype, p + "self_attn.o_proj.weight", h, q),
                    qwen3 ? load(ckpt, weights, dtype, p + "self_attn.q_norm.weight", c.headDim()) : null,
                    qwen3 ? load(ckpt, weights, dtype, p + "self_attn.k_norm.weight", c.headDim()) : null,
                    load(ckpt, weights, dtype, p + "post_attention_layernorm.weight", h),
                    load(ckpt, weights, dtype, p + "mlp.gate_proj.weight", c.intermediateSize(), h),
                    load(ckpt, weights, dtype, p + "mlp.up_proj.weight", c.intermediateSize(), h),
                    load(ckpt, weights, dtype, p + "mlp.down_proj.weight", h, c.intermediateSize())));
        }
        norm = load(ckpt, weights, dtype, m + "norm.weight", h);
        if (ckpt.contains(headKey)) {
            lmHead = load(ckpt, weights, dtype, headKey, c.vocabSize(), h);
        } else if (c.tieWordEmbeddings()) {
            lmHead = embedTokens;
        } else {
            throw new dev.glimpse.core.BadInputException(ckpt.location() + ": missing tensor '" + headKey
                    + "' (config.json says tie_word_embeddings is false)");
        }
        invFreq = RotaryEmbedding.inverseFrequencies(c);
    }

    private static NDArray load(Checkpoint ckpt, NDManager m, DataType dtype, String key, long... shape) {
        return ckpt.load(m, key, dtype, shape);
    }

    /** Every weight array (for checks that the model stays frozen). */
    List<NDArray> parameters() {
        List<NDArray> all = new ArrayList<>(List.of(embedTokens, norm, lmHead));
        for (Layer l : layers) {
            for (NDArray a : new NDArray[] {l.inputLayernorm, l.qProj, l.qBias, l.kProj, l.kBias, l.vProj, l.vBias,
                l.oProj, l.qNorm, l.kNorm, l.postAttentionLayernorm, l.gateProj, l.upProj, l.downProj}) {
                if (a != null) {
                    all.add(a);
                }
            }
        }
        return all;
    }

    int numLayers() {
        return layers.size();
    }

    /** Token embeddings [B, T, H] for ids [B, T]; the result lives in {@code ids}' manager. */
    NDArray embed(NDArray ids) {
        return ids.getNDArrayInternal().embedding(ids, embedTokens, SparseFormat.DENSE).singletonOrThrow();
    }

    /**
     * Runs the decoder.
     *
     * @param x inputs_embeds [B, T, H]
     * @param mask additive attention mask [B, 1, T, S] (0 where allowed, a very negative number elsewhere)
     * @param positions position ids [B, T]
     * @param cache the KV cache to read and extend, or null
     * @param hidden when not null, receives the input of every layer and the final normed state
     *     (transformers' hidden_states: embeddings, layer outputs, with the last one normed)
     * @return the final hidden state after the norm [B, T, H]
     */
    NDArray decode(NDArray x, NDArray mask, NDArray positions, KvCache cache, List<NDArray> hidden) {
        NDArray[] cosSin = RotaryEmbedding.cosSin(invFreq, positions, x.getDataType());
        for (int i = 0; i < layers.size(); i++) {
            if (hidden != null) {
                hidden.add(x);
            }
            Layer l = layers.get(i);
            NDArray attn = attention(l, rmsNorm(x, l.inputLayernorm), mask, cosSin, cache, i);
            x = x.add(attn);
            NDArray mlp = mlp(l, rmsNorm(x, l.postAttentionLayernorm));
            x = x.add(mlp);
        }
        NDArray out = rmsNorm(x, norm);
        if (hidden != null) {
            hidden.add(out);
        }
        return out;
    }

    /** Logits [B, T, V] from final hidden states. */
    NDArray lmHead(NDArray hidden) {
        return linear(hidden, lmHead, null);
    }

    private NDArray attention(Layer l, NDArray h, NDArray mask, NDArray[] cosSin, KvCache cache, int layer) {
        long b = h.getShape().get(0);
        long t = h.getShape().get(1);
        int nh = config.numAttentionHeads();
        int nkv = config.numKeyValueHeads();
        int hd = config.headDim();
        // [B, T, heads*hd] -> [B, heads, T, hd]
        NDArray q = linear(h, l.qProj, l.qBias).reshape(b, t, nh, hd);
        NDArray k = linear(h, l.kProj, l.kBias).reshape(b, t, nkv, hd);
        NDArray v = linear(h, l.vProj, l.vBias).reshape(b, t, nkv, hd).transpose(0, 2, 1, 3);
        if (l.qNorm != null) {
            q = rmsNorm(q, l.qNorm);
            k = rmsNorm(k, l.kNorm);
        }
        q = RotaryEmbedding.apply(q.transpose(0, 2, 1, 3), cosSin);
        k = RotaryEmbedding.apply(k.transpose(0, 2, 1, 3), cosSin);
        if (cache != null) {
            NDArray[] kvs = cache.append(layer, k, v);
            k = kvs[0];
            v = kvs[1];
        }
        k = repeatKv(k, nh / nkv);
        v = repeatKv(v, nh / nkv);
        // scale the queries [B, h, T, hd] rather than the scores [B, h, T, S]: the same product, one pass over a
        // tensor S/hd times smaller, in the forward and in the backward
        NDArray scores = q.mul(scalar(q, (float) (1.0 / Math.sqrt(hd)))).matMul(k.transpose(0, 1, 3, 2)).add(mask);
        // transformers takes the softmax in fp32 (toType would cut the graph, so only fp16 inference converts)
        NDArray probs = scores.getDataType() == DataType.FLOAT32 ? scores.softmax(-1)
                : scores.toType(DataType.FLOAT32, false).softmax(-1).toType(scores.getDataType(), false);
        NDArray out = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, (long) nh * hd);
        return linear(out, l.oProj, null);
    }

    private NDArray mlp(Layer l, NDArray h) {
        NDArray gate = linear(h, l.gateProj, null);
        NDArray up = linear(h, l.upProj, null);
        return linear(gate.mul(Activation.sigmoid(gate)).mul(up), l.downProj, null);
    }

    /** [B, kv, S, hd] -> [B, kv*n, S, hd], each KV head repeated for its n query heads. */
    private static NDArray repeatKv(NDArray x, int n) {
        if (n == 1) {
            return x;
        }
        Shape s = x.getShape();
        return x.expandDims(2).broadcast(new Shape(s.get(0), s.get(1), n, s.get(2), s.get(3)))
                .reshape(s.get(0), s.get(1) * n, s.get(2), s.get(3));
    }

    /** RMSNorm over the last axis, computed in fp32 as transformers does, then scaled by the weight. */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        DataType type = x.getDataType();
        NDArray xf = type == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        NDArray variance = xf.square().mean(new int[] {-1}, true);
        NDArray normed = xf.mul(variance.add(config.rmsNormEps()).sqrt().pow(scalar(xf, -1f)));
        if (type != DataType.FLOAT32) {
            normed = normed.toType(type, false);
        }
        return normed.mul(weight);
    }

    /**
     * A scalar operand kept alive in {@code like}'s manager. DJL's {@code mul(Number)}/{@code pow(Number)} create the
     * scalar from a Java buffer and close it at once; autograd keeps the tensor for the backward pass, which then
     * reads memory the JVM may already have freed (wrong or NaN gradients after a GC). Scalars that live as long as
     * the call's manager avoid that.
     */
    static NDArray scalar(NDArray like, float value) {
        return like.getManager().create(value).toType(like.getDataType(), false);
    }

    static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        NDList r = x.getNDArrayInternal().linear(x, weight, bias);
        return r.singletonOrThrow();
    }
}
