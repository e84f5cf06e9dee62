package dev.glimpse.samples.examples;

import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

/**
 * Load a bundle and answer one question about one image.
 *
 * <pre>java ... Quickstart runs/demo/bundle runs/demo/samples/sample-color-0.png "What color is the ball?"
 *     red blue green yellow</pre>
 */
public final class Quickstart {
    private Quickstart() {}

    public static void main(String[] args) {
        BufferedImage image = new ImageLoader().load(Path.of(args[1]));
        List<String> choices = List.of(args).subList(3, args.length);
        try (VisionLanguageModel model = VisionLanguageModel.load(args[0])) {
            Answer a = model.answer(Question.of(image, args[2], choices));
            System.out.println(a.letter() == null ? a.text()
                    : a.letter() + ". " + a.text() + "  " + a.probabilities());
        }
    }
}
