package dev.glimpse.fusion;

import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A question about zero or more images, optionally with choices (answered by likelihood) and a textual context.
 *
 * @param images RGB images, in the order of the prompt's image slots
 * @param choices options to choose from, or an empty list for a free-form (generated) answer
 */
public record Question(List<BufferedImage> images, String question, List<String> choices, String context) {
    public Question {
        images = List.copyOf(images);
        choices = choices == null ? List.of() : List.copyOf(choices);
        context = context == null ? "" : context;
    }

    public static Question of(BufferedImage image, String question, List<String> choices) {
        return new Question(image == null ? List.of() : List.of(image), question, choices, "");
    }
}
