package dev.glimpse.training;

import java.util.List;

/**
 * One supervised example: the images (by feature-cache key, in prompt order), the prompt with one {@code <image>}
 * per image, and the answer the adapter should make the frozen LLM produce.
 */
public record TrainingExample(String id, List<String> imageKeys, String prompt, String answer) {
    public TrainingExample {
        imageKeys = List.copyOf(imageKeys);
    }
}
