package dev.glimpse.core;

import java.util.LinkedHashMap;
import java.util.Map;

/** config.json of a CLIP or SigLIP vision tower (or the vision_config of a CLIP/SigLIP/LLaVA checkpoint). */
public record VisionTowerConfig(
        String family,
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numChannels,
        int imageSize,
        int patchSize,
        double layerNormEps,
        String hiddenAct) implements ModelConfig {

    /** Patches per image (without the CLS token). */
    public int numPatches() {
        return (imageSize / patchSize) * (imageSize / patchSize);
    }

    static VisionTowerConfig parse(JsonFields f) {
        String type = f.text("model_type");
        // full CLIP/SigLIP configs nest the tower under vision_config
        JsonFields v = (type.equals("clip") || type.equals("siglip")) ? f.object("vision_config") : f;
        String family = type.startsWith("clip") ? "clip" : "siglip";
        String act = v.text("hidden_act", family.equals("clip") ? "quick_gelu" : "gelu_pytorch_tanh");
        if (!act.equals("quick_gelu") && !act.equals("gelu") && !act.equals("gelu_pytorch_tanh")
                && !act.equals("gelu_new")) {
            throw v.bad("hidden_act", "quick_gelu, gelu, gelu_new or gelu_pytorch_tanh");
        }
        int hidden = positive(v, "hidden_size");
        int heads = positive(v, "num_attention_heads");
        if (hidden % heads != 0) {
            throw v.bad("num_attention_heads", "a divisor of hidden_size (" + hidden + ")");
        }
        int image = positive(v, "image_size");
        int patch = v.integer("patch_size");
        if (patch <= 0 || image % patch != 0) {
            throw v.bad("patch_size", "a positive divisor of image_size (" + image + ")");
        }
        int channels = v.integer("num_channels", 3);
        if (channels <= 0) {
            throw v.bad("num_channels", "a positive integer");
        }
        double eps = v.number("layer_norm_eps", family.equals("clip") ? 1e-5 : 1e-6);
        if (!(eps > 0 && eps < 1)) {
            throw v.bad("layer_norm_eps", "a small positive number");
        }
        return new VisionTowerConfig(family, type, hidden, positive(v, "intermediate_size"),
                positive(v, "num_hidden_layers"), heads, channels, image, patch, eps, act);
    }

    private static int positive(JsonFields f, String field) {
        int x = f.integer(field);
        if (x <= 0) {
            throw f.bad(field, "a positive integer");
        }
        return x;
    }

    public long parameterCount() {
        long h = hiddenSize;
        long layer = 4 * (h * h + h) + 2 * h * intermediateSize + intermediateSize + h + 4 * h;
        long emb = (long) numChannels * patchSize * patchSize * h + (long) (numPatches() + 1) * h;
        return emb + numHiddenLayers * layer + 4 * h;
    }

    @Override
    public Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", modelType);
        m.put("hidden_size", hiddenSize);
        m.put("layers", numHiddenLayers);
        m.put("heads", numAttentionHeads);
        m.put("image_size", imageSize);
        m.put("patch_size", patchSize);
        m.put("patches", numPatches());
        m.put("hidden_act", hiddenAct);
        return m;
    }
}
