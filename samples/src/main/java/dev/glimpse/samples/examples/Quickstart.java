package dev.glimpse.samples.examples;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
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
        // the builder sets everything explicitly; VisionLanguageModel.load(args[0]) takes the defaults
        try (VisionLanguageModel model = VisionLanguageModel.builder().model(args[0]).device(Device.cpu())
                .dataType(DataType.FLOAT32).threads(Math.min(4, Runtime.getRuntime().availableProcessors()))
                .build()) {
            Answer a = model.answer(Question.of(image, args[2], choices));
            System.out.println(a.letter() == null ? a.text()
                    : a.letter() + ". " + a.text() + "  " + a.probabilities());
        }
    }
}
