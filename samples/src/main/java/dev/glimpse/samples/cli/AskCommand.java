package dev.glimpse.samples.cli;

import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "ask", mixinStandardHelpOptions = true,
        description = "Ask a question about an image: with --choices the answer is chosen by likelihood (letter,"
                + " option and probabilities), without them it is generated.",
        footer = {"", "Examples:",
            "  glimpse ask --model runs/demo/bundle --image runs/demo/samples/sample-color-0.png "
                    + "--question \"What color is the ball?\" --choices \"red|blue|green|yellow\"",
            "  glimpse ask --model llava-hf/llava-1.5-7b-hf --image diagram.png --question \"What is shown?\""})
final class AskCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Bundle dir, LLaVA checkpoint dir, or hub id.")
    String model;

    @picocli.CommandLine.Mixin
    EngineOptions engineOptions = new EngineOptions();

    @Option(names = "--image", required = true, description = "Image file (repeat for several images).")
    List<Path> images;

    @Option(names = "--question", required = true)
    String question;

    @Option(names = "--choices", description = "Options separated by '|'.")
    String choices;

    @Option(names = "--context", description = "Text context (e.g. ScienceQA's hint).")
    String context;

    @Option(names = "--json", description = "Print {answer, letter, probabilities}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ImageLoader loader = new ImageLoader();
        List<BufferedImage> imgs = new ArrayList<>();
        for (Path p : images) {
            imgs.add(loader.load(p));
        }
        List<String> opts = choices == null ? List.of() : Arrays.stream(choices.split("\\|")).map(String::strip)
                .filter(s -> !s.isEmpty()).toList();
        if (choices != null && opts.size() < 2) {
            throw new dev.glimpse.core.BadInputException("--choices needs at least two options separated by '|'");
        }
        Answer a;
        try (VisionLanguageModel vlm = engineOptions.load(model)) {
            a = vlm.answer(new Question(imgs, question, opts, context));
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("answer", a.text());
            m.put("letter", a.letter());
            m.put("probabilities", a.probabilities());
            out.println(Json.write(m));
        } else if (a.letter() == null) {
            out.println(a.text());
        } else {
            out.printf(Locale.ROOT, "%s. %s%n", a.letter(), a.text());
            a.probabilities().forEach((k, v) -> out.printf(Locale.ROOT, "  %s %5.1f %%  %s%n", k, 100 * v,
                    opts.get(k.charAt(0) - 'A')));
        }
        return 0;
    }
}
