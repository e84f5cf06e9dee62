package dev.glimpse.eval;

import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.training.TrainingExample;
import dev.glimpse.vision.ImageLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * ScienceQA's side of the prompt contract: a problem rendered by a {@link PromptTemplate} (its hint is the context,
 * one {@code <image>} when it has an image), the continuation trained for its gold choice, the problems as training
 * examples, and a {@link VisionLanguageModel} as an {@link EvalRunner.Model} that renders the same way — so what a
 * model was trained on is what it is scored on.
 */
public final class ScienceQaContract {
    private ScienceQaContract() {}

    /**
     * The template {@code eval run --template} names: model (the one the model was trained with, {@code own}), llava
     * (LLaVA-1.5's letters) or options (LLaVA's prompt, choices scored by their text).
     */
    public static PromptTemplate template(String name, PromptTemplate own) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "model" -> own;
            case "llava" -> PromptTemplate.LLAVA;
            case "options" -> PromptTemplate.LLAVA.withScoring(PromptTemplate.Scoring.OPTIONS);
            default -> throw new BadInputException("--template '" + name + "': expected model, llava or options");
        };
    }

    /** The prompt of {@code p} under {@code t}. */
    public static String render(PromptTemplate t, Problem p) {
        return t.render(p.hint() == null ? "" : p.hint(), p.question(), p.choices(), p.hasImage() ? 1 : 0);
    }

    /** The continuation trained on, and scored, for the gold choice of {@code p}. */
    public static String answer(PromptTemplate t, Problem p) {
        if (p.answer() < 0) {
            throw new BadInputException("ScienceQA problem " + p.id() + " has no gold answer");
        }
        return t.continuation(p.choices(), p.answer());
    }

    /** ScienceQA problems as training examples under LLaVA-1.5's prompt contract ({@link PromptTemplate#LLAVA}). */
    public static List<TrainingExample> examples(ScienceQaDataset data, Path imagesDir) {
        return examples(data, imagesDir, PromptTemplate.LLAVA);
    }

    /**
     * ScienceQA problems as training examples rendered by {@code t}: the prompt (with an {@code <image>} when the
     * problem has an image) and, as the answer, exactly the continuation evaluation scores for the gold choice
     * (" A" under LLaVA's template). Problems without a gold answer are left out; a missing image is refused with
     * the problem's id.
     */
    public static List<TrainingExample> examples(ScienceQaDataset data, Path imagesDir, PromptTemplate t) {
        List<TrainingExample> out = new ArrayList<>();
        for (Problem p : data.problems()) {
            if (p.answer() < 0) {
                continue;
            }
            List<String> images = new ArrayList<>();
            if (p.hasImage()) {
                Path img = ScienceQaDataset.imagePath(p, imagesDir);
                if (!Files.isRegularFile(img)) {
                    throw new BadInputException("ScienceQA problem " + p.id() + ": image " + img + " is missing");
                }
                images.add(img.toAbsolutePath().normalize().toString());
            }
            out.add(new TrainingExample(p.id(), images, render(t, p), answer(t, p)));
        }
        return out;
    }

    /**
     * {@code vlm} as a ScienceQA contestant: prompts and choices rendered by {@code t} (normally the model's own
     * {@link VisionLanguageModel#template()}, the contract it was trained with), images read by {@code loader}.
     */
    public static EvalRunner.Model model(VisionLanguageModel vlm, PromptTemplate t, ImageLoader loader) {
        return new EvalRunner.Model() {
            @Override
            public String prompt(Problem p) {
                return render(t, p);
            }

            @Override
            public String generate(Problem p, Path image) {
                return vlm.generate(render(t, p), features(image), GenerationOptions.greedy(64));
            }

            @Override
            public double[] score(Problem p, Path image) {
                return vlm.scoreContinuations(render(t, p), features(image), t.continuations(p.choices()));
            }

            private List<float[]> features(Path image) {
                return image == null ? List.of() : vlm.features(List.of(loader.load(image)));
            }
        };
    }
}
