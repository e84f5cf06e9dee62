package dev.glimpse.core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's {@code config.json}, typed by family. Reads both transformers 4.x keys ({@code rope_theta},
 * {@code rope_scaling}) and 5.x keys ({@code rope_parameters}).
 */
public sealed interface ModelConfig permits LanguageModelConfig, VisionTowerConfig, LlavaConfig {
    /** The {@code model_type} field. */
    String modelType();

    /** A few headline numbers for people: sizes, layers, vocabulary. */
    Map<String, Object> summary();

    /** Reads {@code config.json} in {@code dir} (or the file itself). */
    static ModelConfig read(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("config.json") : dirOrFile;
        JsonFields f = JsonFields.read(file);
        return parse(f);
    }

    static ModelConfig parse(JsonFields f) {
        String type = f.text("model_type");
        return switch (type) {
            case "llama", "qwen2", "qwen3" -> LanguageModelConfig.parse(f);
            case "clip", "clip_vision_model", "siglip", "siglip_vision_model" -> VisionTowerConfig.parse(f);
            case "llava" -> LlavaConfig.parse(f);
            default -> throw new BadInputException(f.source() + ": model_type '" + type
                    + "' is not supported (supported: llama, qwen2, qwen3, clip, clip_vision_model, siglip,"
                    + " siglip_vision_model, llava)");
        };
    }
}
