package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.Precision;
import dev.glimpse.core.TorchExtension;
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
        embedTokens = load(ckpt, weights, dtype, LlamaTensors.embedTokens(m), c.vocabSize(), h);
        boolean qwen3 = c.modelType().equals("qwen3");
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            int layer = i;
            java.util.function.Function<String, String> w = name -> LlamaTensors.linear(m, layer, name) + ".weight";
            java.util.function.Function<String, String> bias = name -> LlamaTensors.linear(m, layer, name) + ".bias";
            layers.add(new Layer(
                    load(ckpt, weights, dtype, LlamaTensors.inputLayernorm(m, i), h),
                    load(ckpt, weights, dtype, w.apply("q_proj"), q, h),
                    c.attentionBias() ? load(ckpt, weights, dtype, bias.apply("q_proj"), q) : null,
                    load(ckpt, weights, dtype, w.apply("k_proj"), kv, h),
                    c.attentionBias() ? load(ckpt, weights, dtype, bias.apply("k_proj"), kv) : null,
                    load(ckpt, weights, dtype, w.apply("v_proj"), kv, h),
                    c.attentionBias() ? load(ckpt, weights, dtype, bias.apply("v_proj"), kv) : null,
                    load(ckpt, weights, dtype, w.apply("o_proj"), h, q),
                    qwen3 ? load(ckpt, weights, dtype, LlamaTensors.headNorm(m, i, 'q'), c.headDim()) : null,
                    qwen3 ? load(ckpt, weights, dtype, LlamaTensors.headNorm(m, i, 'k'), c.headDim()) : null,
                    load(ckpt, weights, dtype, LlamaTensors.postAttentionLayernorm(m, i), h),
                    load(ckpt, weights, dtype, w.apply("gate_proj"), c.intermediateSize(), h),
                    load(ckpt, weights, dtype, w.apply("up_proj"), c.intermediateSize(), h),
                    load(ckpt, weights, dtype, w.apply("down_proj"), h, c.intermediateSize())));
        }
        norm = load(ckpt, weights, dtype, LlamaTensors.norm(m), h);
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
     * @param causalOnly true when the mask is the plain causal mask for every real token (no cache, padding only
     *     after each row's tokens): fused attention then runs its causal kernel without the mask
     * @param positions position ids [B, T]
     * @param cache the KV cache to read and extend, or null
     * @param hidden when not null, receives the input of every layer and the final normed state
     *     (transformers' hidden_states: embeddings, layer outputs, with the last one normed)
     * @param ad LoRA and adaption-prompt arrays, or null for the frozen model alone
     * @return the final hidden state after the norm [B, T, H]
     */
    NDArray decode(NDArray x, NDArray mask, boolean causalOnly, NDArray positions, KvCache cache,
                   List<NDArray> hidden, LanguageAdapter.Weights ad) {
        Pass p = pass(x, mask, causalOnly, positions, cache, ad);
        for (int i = 0; i < layers.size(); i++) {
            if (hidden != null) {
                hidden.add(x);
            }
            x = layer(i, x, p);
        }
        NDArray out = finalNorm(x);
        if (hidden != null) {
            hidden.add(out);
        }
        return out;
    }

    /** What every layer of one pass shares: the mask, the rotary tables, the cache and the adapter arrays. */
    record Pass(NDArray mask, boolean causalOnly, NDArray[] cosSin, KvCache cache, LanguageAdapter.Weights ad) {}

    Pass pass(NDArray x, NDArray mask, boolean causalOnly, NDArray positions, KvCache cache,
              LanguageAdapter.Weights ad) {
        return new Pass(mask, causalOnly, RotaryEmbedding.cosSin(invFreq, positions, x.getDataType()), cache, ad);
    }

    /**
     * Decoder layer {@code i} on {@code x}; the output lives in x's manager. The layer runs in a scope of its own:
     * what it made and no longer needs is freed when it ends (as PyTorch frees a tensor at its last use), while
     * autograd keeps, by reference, what the backward will read. LoRA dropout draws its masks from a generator seeded
     * per layer, so a layer run again (activation checkpointing, a resumed step) draws the same ones.
     */
    NDArray layer(int i, NDArray x, Pass p) {
        if (p.ad() != null && p.ad().dropoutSeed() != null) {
            x.getManager().getEngine().setRandomSeed(p.ad().dropoutSeed() * 31 + i);
        }
        NDManager outer = x.getManager();
        try (NDManager scope = outer.newSubManager()) {
            x.tempAttach(scope);
            NDArray y = layer(layers.get(i), i, x, p);
            y.attach(outer);
            return y;
        }
    }

    /** The final RMSNorm. */
    NDArray finalNorm(NDArray x) {
        return rmsNorm(x, norm);
    }

    private NDArray layer(Layer l, int i, NDArray x, Pass p) {
        NDArray h = x.add(attention(l, rmsNorm(x, l.inputLayernorm), i, p));
        return h.add(mlp(l, rmsNorm(h, l.postAttentionLayernorm), i, p.ad()));
    }

    /** Logits [B, T, V] from final hidden states. */
    NDArray lmHead(NDArray hidden) {
        return linear(hidden, lmHead, null);
    }

    private NDArray attention(Layer l, NDArray h, int layer, Pass p) {
        LanguageAdapter.Weights ad = p.ad();
        long b = h.getShape().get(0);
        long t = h.getShape().get(1);
        int nh = config.numAttentionHeads();
        int nkv = config.numKeyValueHeads();
        int hd = config.headDim();
        // [B, T, heads*hd] -> [B, heads, T, hd]
        NDArray q = proj(h, l.qProj, l.qBias, ad, layer, "q_proj").reshape(b, t, nh, hd);
        NDArray k = proj(h, l.kProj, l.kBias, ad, layer, "k_proj").reshape(b, t, nkv, hd);
        NDArray v = proj(h, l.vProj, l.vBias, ad, layer, "v_proj").reshape(b, t, nkv, hd).transpose(0, 2, 1, 3);
        if (l.qNorm != null) {
            q = rmsNorm(q, l.qNorm);
            k = rmsNorm(k, l.kNorm);
        }
        q = RotaryEmbedding.apply(q.transpose(0, 2, 1, 3), p.cosSin());
        k = RotaryEmbedding.apply(k.transpose(0, 2, 1, 3), p.cosSin());
        if (p.cache() != null) {
            NDArray[] kvs = p.cache().append(layer, k, v);
            k = kvs[0];
            v = kvs[1];
        }
        k = repeatKv(k, nh / nkv);
        v = repeatKv(v, nh / nkv);
        double scale = 1.0 / Math.sqrt(hd);
        NDArray out;
        NDArray qs = null;
        if (TorchExtension.fusedAttention()) {
            // libtorch's flash / memory-efficient kernels: the [T, S] scores are never stored
            out = TorchExtension.attention(q, k, v, p.causalOnly() ? null : p.mask(), p.causalOnly(), scale);
        } else {
            // scale the queries [B, h, T, hd] rather than the scores [B, h, T, S]: the same product, one pass over
            // a tensor S/hd times smaller, in the forward and in the backward
            qs = q.mul(scalar(q, (float) scale));
            out = softmax32(qs.matMul(k.transpose(0, 1, 3, 2)).add(p.mask())).matMul(v);
        }
        NDArray prompt = ad == null ? null : ad.prompt(layer);
        if (prompt != null) {
            qs = qs != null ? qs : q.mul(scalar(q, (float) scale));
            out = out.add(adaptionPrompt(l, qs, prompt, ad.gate(layer), ad.visual()));
        }
        out = out.transpose(0, 2, 1, 3).reshape(b, t, (long) nh * hd);
        return proj(out, l.oProj, null, ad, layer, "o_proj");
    }

    /** transformers takes the softmax in fp32 (softmax's own dtype argument widens inside the graph). */
    private static NDArray softmax32(NDArray scores) {
        if (scores.getDataType() == DataType.FLOAT32) {
            return scores.softmax(-1);
        }
        NDArray p = JniUtils.softmax((PtNDArray) scores, -1, DataType.FLOAT32);
        return Precision.cast(p, scores.getDataType());
    }

    /**
     * LLaMA-Adapter (as PEFT's AdaptedAttention): the scaled queries [B, h, T, hd] attend to the layer's prompt
     * [1, L, H] (plus a per-row visual feature [B, H] in the multimodal variant) through this layer's own k/v
     * projections, in a softmax of their own, times the zero-initialised gate. No rotation: the prompt has no
     * position. Returns [B, h, T, hd], added to the attention output before o_proj (o_proj is linear, so this
     * equals PEFT's o_proj(base) + o_proj(adapter)).
     */
    private NDArray adaptionPrompt(Layer l, NDArray qs, NDArray prompt, NDArray gate, NDArray visual) {
        int nh = config.numAttentionHeads();
        int nkv = config.numKeyValueHeads();
        int hd = config.headDim();
        NDArray p = visual == null ? prompt : prompt.add(visual.expandDims(1)); // [1 or B, L, H]
        long pb = p.getShape().get(0);
        long len = p.getShape().get(1);
        NDArray pk = linear(p, l.kProj, l.kBias).reshape(pb, len, nkv, hd);
        if (l.kNorm != null) {
            pk = rmsNorm(pk, l.kNorm); // Qwen3 normalises every key; the prompt's keys are keys too
        }
        pk = repeatKv(pk.transpose(0, 2, 1, 3), nh / nkv);
        NDArray pv = repeatKv(linear(p, l.vProj, l.vBias).reshape(pb, len, nkv, hd).transpose(0, 2, 1, 3), nh / nkv);
        NDArray probs = softmax32(qs.matMul(pk.transpose(0, 1, 3, 2))).mul(gate);
        return probs.matMul(pv);
    }

    private NDArray mlp(Layer l, NDArray h, int layer, LanguageAdapter.Weights ad) {
        NDArray gate = proj(h, l.gateProj, null, ad, layer, "gate_proj");
        NDArray up = proj(h, l.upProj, null, ad, layer, "up_proj");
        return proj(gate.mul(Activation.sigmoid(gate)).mul(up), l.downProj, null, ad, layer, "down_proj");
    }

    /**
     * A linear layer, plus its LoRA when the adapter has one: x·Wᵀ + b + scaling · (drop(x)·Aᵀ)·Bᵀ. The scaling
     * multiplies the rank-r intermediate, the smallest tensor on the path.
     */
    private NDArray proj(NDArray x, NDArray w, NDArray bias, LanguageAdapter.Weights ad, int layer, String name) {
        NDArray y = linear(x, w, bias);
        NDArray a = ad == null ? null : ad.loraA(layer, name);
        if (a == null) {
            return y;
        }
        LoraConfig c = ad.adapter().lora().orElseThrow();
        NDArray in = x;
        if (ad.dropoutSeed() != null && c.dropout() > 0) {
            in = x.mul(dropoutMask(x, c.dropout()));
        }
        NDArray low = linear(in, a, null);
        return y.add(linear(low.mul(scalar(low, (float) c.scaling())), ad.loraB(layer, name), null));
    }

    /** Inverted dropout: 0 with probability p, else 1/(1-p), drawn by the engine (no gradient flows to it). */
    private static NDArray dropoutMask(NDArray like, double p) {
        NDArray keep = like.getManager().randomUniform(0f, 1f, like.getShape(), DataType.FLOAT32).gte((float) p);
        return keep.toType(like.getDataType(), false).mul((float) (1 / (1 - p)));
    }

    /**
     * Folds scaling · B·A into the weight of {@code name} in {@code layer} (PEFT's merge). The weights may be a
     * read-only mapping of the checkpoint, so the merged weight is a new array that replaces the old one.
     */
    void mergeLora(int layer, String name, NDArray a, NDArray b, double scaling) {
        Layer l = layers.get(layer);
        NDArray w = switch (name) {
            case "q_proj" -> l.qProj;
            case "k_proj" -> l.kProj;
            case "v_proj" -> l.vProj;
            case "o_proj" -> l.oProj;
            case "gate_proj" -> l.gateProj;
            case "up_proj" -> l.upProj;
            case "down_proj" -> l.downProj;
            default -> throw new IllegalArgumentException(name);
        };
        NDArray merged;
        try (NDManager m = w.getManager().newSubManager()) {
            NDArray af = a.toType(DataType.FLOAT32, true);
            NDArray bf = b.toType(DataType.FLOAT32, true);
            NDArray wf = w.toType(DataType.FLOAT32, true);
            af.attach(m);
            bf.attach(m);
            wf.attach(m);
            // as PEFT: the delta in fp32, added, then cast to the weight's type
            merged = wf.add(bf.matMul(af).mul(scalar(af, (float) scaling))).toType(w.getDataType(), true);
            merged.attach(w.getManager());
        }
        layers.set(layer, new Layer(l.inputLayernorm, name.equals("q_proj") ? merged : l.qProj, l.qBias,
                name.equals("k_proj") ? merged : l.kProj, l.kBias, name.equals("v_proj") ? merged : l.vProj, l.vBias,
                name.equals("o_proj") ? merged : l.oProj, l.qNorm, l.kNorm, l.postAttentionLayernorm,
                name.equals("gate_proj") ? merged : l.gateProj, name.equals("up_proj") ? merged : l.upProj,
                name.equals("down_proj") ? merged : l.downProj));
        w.close();
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
        NDArray xf = Precision.cast(x, DataType.FLOAT32);
        NDArray variance = xf.square().mean(new int[] {-1}, true);
        NDArray normed = xf.mul(variance.add(config.rmsNormEps()).sqrt().pow(scalar(xf, -1f)));
        return Precision.cast(normed, type).mul(weight);
    }

    /**
     * A scalar operand made by libtorch, which owns its memory. DJL's {@code mul(Number)}/{@code pow(Number)} (and
     * arrays made from Java buffers) wrap memory the JVM frees once the Java handle is gone; autograd keeps the
     * tensor for the backward pass, which then reads freed memory (wrong or NaN gradients after a GC), and the
     * per-layer scopes close such handles before the backward.
     */
    static NDArray scalar(NDArray like, float value) {
        return like.getManager().full(new Shape(), value, like.getDataType());
    }

    static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        NDList r = x.getNDArrayInternal().linear(x, weight, bias);
        return r.singletonOrThrow();
    }
}
