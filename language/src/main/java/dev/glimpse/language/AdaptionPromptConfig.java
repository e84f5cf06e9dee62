package dev.glimpse.language;

import dev.glimpse.core.BadInputException;

/**
 * LLaMA-Adapter's adaption prompts, named as PEFT's AdaptionPromptConfig names them: {@code length} learnable
 * prompt tokens in each of the top {@code layers} decoder layers. Each layer's queries attend to its prompt
 * through the layer's own k/v projections, in a softmax of their own, scaled by a gate that starts at zero: the
 * model starts exactly as the frozen one.
 */
public record AdaptionPromptConfig(int length, int layers) {
    public AdaptionPromptConfig {
        if (length < 1 || layers < 1) {
            throw new BadInputException("adaption prompt needs length >= 1 and layers >= 1, got " + length + " and "
                    + layers);
        }
    }

    /** Whether layer {@code i} of {@code total} carries a prompt (the top {@code layers}). */
    public boolean adapts(int layer, int total) {
        return layer >= total - layers;
    }
}
