package dev.glimpse.vision;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LlavaConfig;
import dev.glimpse.core.ModelConfig;
import dev.glimpse.core.TensorInfo;
import dev.glimpse.core.VisionTowerConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CLIP and SigLIP vision transformers in DJL, loaded from Hugging Face safetensors (a CLIP/SigLIP checkpoint's
 * {@code vision_model.*}, or the tower inside a LLaVA checkpoint). Read top to bottom as transformers'
 * modeling_clip / modeling_siglip: patch embedding (+ CLS and pre-layernorm for CLIP), N pre-norm encoder layers,
 * post-layernorm (SigLIP: on the last state; CLIP: on the pooled CLS), and SigLIP's attention-pooling head.
 * Frozen: weights never take gradients.
 *
 * <p>Thread-safe: weights are read-only and each call works in its own NDManager.
 */
public final class VitVisionTower implements VisionTower {
    private record Layer(NDArray ln1w, NDArray ln1b, NDArray qw, NDArray qb, NDArray kw, NDArray kb, NDArray vw,
                         NDArray vb, NDArray ow, NDArray ob, NDArray ln2w, NDArray ln2b, NDArray fc1w, NDArray fc1b,
                         NDArray fc2w, NDArray fc2b) {}

    private final VisionTowerConfig config;
    private final NDManager weights;
    private final ImageProcessor processor;
    private final int layer;
    private final boolean dropCls;
    private final String id;
    private final String name;
    private final NDArray patchWeight;
    private final NDArray patchBias;
    private final NDArray classEmbedding;
    private final NDArray positionEmbedding;
    private final NDArray preLnW;
    private final NDArray preLnB;
    private final NDArray postLnW;
    private final NDArray postLnB;
    private final List<Layer> layers = new ArrayList<>();
    private final NDArray[] head; // probe, in_proj w/b, out_proj w/b, ln w/b, fc1 w/b, fc2 w/b (SigLIP only)

    /**
     * @param dir a CLIP/SigLIP vision checkpoint or a LLaVA checkpoint directory (its preprocessor_config.json is used)
     * @param layer which hidden state gives the features: −1 last, −2 penultimate (LLaVA), or 0..N
     * @param dropCls drop CLIP's CLS token (ignored for SigLIP, which has none)
     */
    public static VitVisionTower load(Path dir, int layer, boolean dropCls) {
        return load(dir, layer, dropCls, null);
    }

    /** As {@link #load(Path, int, boolean)} on {@code device} (null: Glimpse's default device). */
    public static VitVisionTower load(Path dir, int layer, boolean dropCls, ai.djl.Device device) {
        ModelConfig c = ModelConfig.read(dir);
        VisionTowerConfig vc;
        if (c instanceof VisionTowerConfig v) {
            vc = v;
        } else if (c instanceof LlavaConfig l) {
            vc = l.vision();
        } else {
            throw new BadInputException(dir + ": model_type '" + c.modelType()
                    + "' has no vision tower (expected clip, siglip or llava)");
        }
        // Glimpse's device by default: a GPU when libtorch sees one (fp32, TF32 there)
        NDManager m = device == null ? GlimpseEngine.newManager() : GlimpseEngine.newManager(device);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            return new VitVisionTower(vc, ckpt, m, ImageProcessor.read(dir), layer, dropCls,
                    dir.toAbsolutePath().normalize().toString());
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Builds the tower from a checkpoint already open (e.g. inside a LLaVA loader); takes ownership of {@code m}. */
    public VitVisionTower(VisionTowerConfig config, Checkpoint ckpt, NDManager m, ImageProcessor processor, int layer,
                          boolean dropCls, String source) {
        this.config = config;
        this.weights = m;
        this.processor = processor;
        int n = config.numHiddenLayers();
        this.layer = layer < 0 ? n + 1 + layer : layer;
        if (this.layer < 0 || this.layer > n) {
            throw new BadInputException("vision feature layer " + layer + " is outside 0.." + n + " (or -1..-" + (n + 1)
                    + ")");
        }
        boolean clip = config.family().equals("clip");
        this.dropCls = dropCls && clip;
        String p = prefix(ckpt);
        int d = config.hiddenSize();
        int ps = config.patchSize();
        int ch = config.numChannels();
        patchWeight = load(ckpt, p + "embeddings.patch_embedding.weight", d, ch, ps, ps).reshape(d, (long) ch * ps * ps);
        patchBias = clip ? null : load(ckpt, p + "embeddings.patch_embedding.bias", d);
        int positions = config.numPatches() + (clip ? 1 : 0);
        classEmbedding = clip ? load(ckpt, p + "embeddings.class_embedding", d) : null;
        positionEmbedding = load(ckpt, p + "embeddings.position_embedding.weight", positions, d);
        preLnW = clip ? load(ckpt, p + "pre_layrnorm.weight", d) : null;
        preLnB = clip ? load(ckpt, p + "pre_layrnorm.bias", d) : null;
        postLnW = load(ckpt, p + "post_layernorm.weight", d);
        postLnB = load(ckpt, p + "post_layernorm.bias", d);
        int f = config.intermediateSize();
        for (int i = 0; i < n; i++) {
            String l = p + "encoder.layers." + i + ".";
            layers.add(new Layer(load(ckpt, l + "layer_norm1.weight", d), load(ckpt, l + "layer_norm1.bias", d),
                    load(ckpt, l + "self_attn.q_proj.weight", d, d), load(ckpt, l + "self_attn.q_proj.bias", d),
                    load(ckpt, l + "self_attn.k_proj.weight", d, d), load(ckpt, l + "self_attn.k_proj.bias", d),
                    load(ckpt, l + "self_attn.v_proj.weight", d, d), load(ckpt, l + "self_attn.v_proj.bias", d),
                    load(ckpt, l + "self_attn.out_proj.weight", d, d), load(ckpt, l + "self_attn.out_proj.bias", d),
                    load(ckpt, l + "layer_norm2.weight", d), load(ckpt, l + "layer_norm2.bias", d),
                    load(ckpt, l + "mlp.fc1.weight", f, d), load(ckpt, l + "mlp.fc1.bias", f),
                    load(ckpt, l + "mlp.fc2.weight", d, f), load(ckpt, l + "mlp.fc2.bias", d)));
        }
        if (!clip && ckpt.contains(p + "head.probe")) {
            String h = p + "head.";
            head = new NDArray[] {load(ckpt, h + "probe", 1, 1, d), load(ckpt, h + "attention.in_proj_weight", 3L * d, d),
                load(ckpt, h + "attention.in_proj_bias", 3L * d), load(ckpt, h + "attention.out_proj.weight", d, d),
                load(ckpt, h + "attention.out_proj.bias", d), load(ckpt, h + "layernorm.weight", d),
                load(ckpt, h + "layernorm.bias", d), load(ckpt, h + "mlp.fc1.weight", f, d),
                load(ckpt, h + "mlp.fc1.bias", f), load(ckpt, h + "mlp.fc2.weight", d, f), load(ckpt, h + "mlp.fc2.bias", d)};
        } else {
            head = null;
        }
        this.name = Path.of(source).getFileName() == null ? source : Path.of(source).getFileName().toString();
        this.id = "vit:" + source + ":" + p + ":layer" + this.layer + (this.dropCls ? ":nocls" : "") + ":"
                + processor.fingerprint();
    }

    /** Finds where the tower's keys start: "", "vision_model.", "vision_tower.", "model.vision_tower.", …. */
    private static String prefix(Checkpoint ckpt) {
        return ckpt.prefixOf("embeddings.patch_embedding.weight").orElseThrow(() -> new BadInputException(
                ckpt.location() + ": no vision tower weights (no '*embeddings.patch_embedding.weight')"));
    }

    private NDArray load(Checkpoint ckpt, String key, long... shape) {
        return ckpt.load(weights, key, DataType.FLOAT32, shape);
    }

    public VisionTowerConfig config() {
        return config;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String layer() {
        return Integer.toString(layer - config.numHiddenLayers() - 1);
    }

    @Override
    public ImageProcessor processor() {
        return processor;
    }

    @Override
    public int numTokens() {
        return config.numPatches() + (config.family().equals("clip") && !dropCls ? 1 : 0);
    }

    @Override
    public int hiddenSize() {
        return config.hiddenSize();
    }

    /** All hidden states (embeddings first), the last state after any post-norm, and the pooled output. */
    public record Outputs(List<NDArray> hiddenStates, NDArray lastHiddenState, NDArray pooled) {}

    /** Runs the tower on pixel values [B, C, H, W] in {@code pixels}' manager. */
    public Outputs forward(NDArray pixels) {
        long b = pixels.getShape().get(0);
        int ps = config.patchSize();
        int g = config.imageSize() / ps;
        int d = config.hiddenSize();
        if (pixels.getShape().get(2) != config.imageSize() || pixels.getShape().get(3) != config.imageSize()) {
            throw new BadInputException("pixel values " + pixels.getShape() + " do not match the tower's image size "
                    + config.imageSize());
        }
        // a stride-P convolution with a PxP kernel is a linear map of each flattened patch
        NDArray patches = pixels.reshape(b, config.numChannels(), g, ps, g, ps).transpose(0, 2, 4, 1, 3, 5)
                .reshape(b, (long) g * g, (long) config.numChannels() * ps * ps);
        NDArray x = linear(patches, patchWeight, patchBias);
        if (classEmbedding != null) {
            NDArray cls = pixels.getManager().zeros(new Shape(b, 1, d)).add(classEmbedding);
            x = cls.concat(x, 1);
        }
        x = x.add(positionEmbedding);
        if (preLnW != null) {
            x = layerNorm(x, preLnW, preLnB);
        }
        List<NDArray> hidden = new ArrayList<>();
        hidden.add(x);
        for (Layer l : layers) {
            NDArray h = layerNorm(x, l.ln1w, l.ln1b);
            x = x.add(attention(h, h, l.qw, l.qb, l.kw, l.kb, l.vw, l.vb, l.ow, l.ob));
            h = layerNorm(x, l.ln2w, l.ln2b);
            x = x.add(linear(act(linear(h, l.fc1w, l.fc1b)), l.fc2w, l.fc2b));
            hidden.add(x);
        }
        NDArray last = x;
        NDArray pooled;
        if (classEmbedding != null) {
            pooled = layerNorm(last.get(":, 0, :"), postLnW, postLnB);
        } else {
            last = layerNorm(last, postLnW, postLnB);
            pooled = head == null ? null : head(last);
        }
        return new Outputs(hidden, last, pooled);
    }

    /** SigLIP's multihead-attention pooling: a learned probe attends over the tokens. */
    private NDArray head(NDArray x) {
        long b = x.getShape().get(0);
        int d = config.hiddenSize();
        NDArray probe = x.getManager().zeros(new Shape(b, 1, d)).add(head[0]);
        NDArray qw = head[1].get("0:" + d);
        NDArray kw = head[1].get(d + ":" + 2 * d);
        NDArray vw = head[1].get(2 * d + ":");
        NDArray qb = head[2].get("0:" + d);
        NDArray kb = head[2].get(d + ":" + 2 * d);
        NDArray vb = head[2].get(2 * d + ":");
        NDArray h = attention(probe, x, qw, qb, kw, kb, vw, vb, head[3], head[4]);
        NDArray mlp = linear(act(linear(layerNorm(h, head[5], head[6]), head[7], head[8])), head[9], head[10]);
        NDArray out = h.add(mlp).get(":, 0, :");
        for (NDArray a : new NDArray[] {qw, kw, vw, qb, kb, vb}) {
            a.close();
        }
        return out;
    }

    private NDArray attention(NDArray q, NDArray kv, NDArray qw, NDArray qb, NDArray kw, NDArray kb, NDArray vw,
                              NDArray vb, NDArray ow, NDArray ob) {
        long b = q.getShape().get(0);
        long tq = q.getShape().get(1);
        long tk = kv.getShape().get(1);
        int heads = config.numAttentionHeads();
        int hd = config.hiddenSize() / heads;
        NDArray qs = linear(q, qw, qb).reshape(b, tq, heads, hd).transpose(0, 2, 1, 3);
        NDArray ks = linear(kv, kw, kb).reshape(b, tk, heads, hd).transpose(0, 2, 1, 3);
        NDArray vs = linear(kv, vw, vb).reshape(b, tk, heads, hd).transpose(0, 2, 1, 3);
        NDArray probs = qs.matMul(ks.transpose(0, 1, 3, 2)).mul(1.0 / Math.sqrt(hd)).softmax(-1);
        NDArray out = probs.matMul(vs).transpose(0, 2, 1, 3).reshape(b, tq, config.hiddenSize());
        return linear(out, ow, ob);
    }

    private NDArray act(NDArray x) {
        return switch (config.hiddenAct()) {
            case "quick_gelu" -> x.mul(Activation.sigmoid(x.mul(1.702f)));
            case "gelu" -> x.mul(x.mul(1 / Math.sqrt(2)).erf().add(1)).mul(0.5f);
            default -> { // gelu_pytorch_tanh, gelu_new
                NDArray inner = x.add(x.pow(3).mul(0.044715f)).mul((float) Math.sqrt(2 / Math.PI));
                yield x.mul(inner.tanh().add(1)).mul(0.5f);
            }
        };
    }

    private NDArray layerNorm(NDArray x, NDArray w, NDArray b) {
        NDList r = x.getNDArrayInternal().layerNorm(x, new Shape(config.hiddenSize()), w, b,
                (float) config.layerNormEps());
        return r.singletonOrThrow();
    }

    private static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return x.getNDArrayInternal().linear(x, w, b).singletonOrThrow();
    }

    @Override
    public Features encodePixels(float[] pixelValues, int batch) {
        int s = config.imageSize();
        try (NDManager m = weights.newSubManager()) {
            NDArray px = m.create(pixelValues, new Shape(batch, config.numChannels(), s, s));
            Outputs o = forward(px);
            // LLaVA's hidden_states[layer]: for SigLIP the last one is taken before the post-layernorm
            NDArray sel = o.hiddenStates().get(layer);
            if (dropCls) {
                sel = sel.get(":, 1:, :");
            }
            Shape sh = sel.getShape();
            return new Features(sel.toFloatArray(), (int) sh.get(0), (int) sh.get(1), (int) sh.get(2),
                    o.pooled() == null ? null : o.pooled().toFloatArray());
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}
