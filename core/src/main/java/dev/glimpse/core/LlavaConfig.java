package dev.glimpse.core;

import java.util.LinkedHashMap;
import java.util.Map;

/** config.json of a LLaVA checkpoint: a vision tower, a projector and a language model. */
public record LlavaConfig(
        VisionTowerConfig vision,
        LanguageModelConfig text,
        int imageTokenIndex,
        String projectorHiddenAct,
        int visionFeatureLayer,
        String visionFeatureSelectStrategy,
        boolean projectorBias) implements ModelConfig {

    @Override
    public String modelType() {
        return "llava";
    }

    static LlavaConfig parse(JsonFields f) {
        VisionTowerConfig vision = VisionTowerConfig.parse(f.object("vision_config"));
        LanguageModelConfig text = LanguageModelConfig.parse(f.object("text_config"));
        String strategy = f.text("vision_feature_select_strategy", "default");
        if (!strategy.equals("default") && !strategy.equals("full")) {
            throw f.bad("vision_feature_select_strategy", "'default' (drop CLS) or 'full'");
        }
        if (f.has("vision_feature_layer") && !f.node().get("vision_feature_layer").isIntegralNumber()) {
            throw f.bad("vision_feature_layer", "a single layer index (lists of layers are not supported)");
        }
        return new LlavaConfig(vision, text, f.integer("image_token_index", 32000),
                f.text("projector_hidden_act", "gelu"), f.integer("vision_feature_layer", -2), strategy,
                f.bool("multimodal_projector_bias", true));
    }

    @Override
    public Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", "llava");
        m.put("vision", vision.summary());
        m.put("text", text.summary());
        m.put("image_token_index", imageTokenIndex);
        m.put("vision_feature_layer", visionFeatureLayer);
        m.put("projector", "mlp2x_" + projectorHiddenAct);
        return m;
    }
}
