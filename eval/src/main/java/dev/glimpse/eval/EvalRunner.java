package dev.glimpse.eval;


import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.Progress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs a model over ScienceQA problems: by option likelihood (letters or full option texts) or by generation
 * then parsing. Each answer is appended to {@code answers.jsonl} (LLaVA's answer format) as it is made, so a
 * restart skips the ids already done; the report is scored from that file exactly as {@code eval score} would.
 *
 * <p>Stateless; a run writes only into its own output directory. Run one evaluation per output directory at a time.
 */
public final class EvalRunner {
    /**
     * What a model must do to be evaluated; {@code image} is null for text-only problems. The model renders its own
     * prompt and choices (its prompt contract), so what it was trained on is what it is scored on.
     */
    public interface Model {
        /** The prompt the model is asked for {@code p} (recorded in answers.jsonl). */
        String prompt(Problem p);

        /** A generated answer, parsed later by the answer policy. */
        String generate(Problem p, Path image);

        /** The log-likelihood of each of {@code p}'s choices, in order. */
        double[] score(Problem p, Path image);
    }

    /** How answers are obtained. */
    public enum Scoring {
        /** the likeliest choice, scored as the model's prompt contract says (letters or option texts). */
        LIKELIHOOD,
        /** greedy generation, parsed by the answer policy. */
        GENERATE;

        public static Scoring parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "likelihood" -> LIKELIHOOD;
                case "generate" -> GENERATE;
                default -> throw new dev.glimpse.core.BadInputException("unknown scoring '" + s
                        + "' (expected likelihood or generate)");
            };
        }
    }

    private EvalRunner() {}

    public static EvalReport run(ScienceQaDataset data, Path imagesDir, Model model, Scoring scoring,
                                 AnswerPolicy policy, Path outDir, Progress progress) {
        return run(data, todo -> todo.stream().map(p -> answerOne(model, p, imagesDir, scoring)).iterator(), policy,
                outDir, progress);
    }

    /** Where answers come from: one {@link Answered} per problem of {@code todo}, in its order. */
    public interface Answers {
        Iterator<Answered> answer(List<Problem> todo);
    }

    /**
     * Answers the problems not yet in {@code outDir/answers.jsonl} through {@code answers} (in the dataset's order,
     * each appended as it arrives, so a restart skips them), then scores the file: the run above, or the same run
     * with the answering done elsewhere (glimpse-spark's executors).
     */
    public static EvalReport run(ScienceQaDataset data, Answers answers, AnswerPolicy policy, Path outDir,
                                 Progress progress) {
        Path file = outDir.resolve("answers.jsonl");
        List<LoadIssue> issues = new ArrayList<>();
        Map<String, String> done = new LinkedHashMap<>();
        ObjectMapper json = new ObjectMapper();
        try {
            Files.createDirectories(outDir);
            if (Files.isRegularFile(file)) {
                done.putAll(Predictions.llavaAnswers(file).texts());
            }
        } catch (IOException e) {
            throw new GlimpseException("cannot prepare " + outDir + ": " + e.getMessage(), e);
        }
        List<Problem> todo = data.problems().stream().filter(p -> !done.containsKey(p.id())).toList();
        int n = data.size() - todo.size();
        progress.update(n, data.size(), "");
        for (Iterator<Answered> it = answers.answer(todo); it.hasNext(); ) {
            Answered a = it.next();
            if (a.issue() != null) {
                issues.add(new LoadIssue(a.image() != null ? Path.of(a.image()) : file, 0, a.id(), a.issue()));
            } else {
                append(file, a, json);
            }
            progress.update(++n, data.size(), a.issue() == null ? "" : a.image() != null ? "missing image" : "skipped");
        }
        Predictions all = Files.isRegularFile(file) ? Predictions.llavaAnswers(file)
                : new Predictions(Map.of(), Map.of(), List.of());
        EvalReport r = Scorer.scoreTexts(data, all, policy, 0, file.toString());
        List<LoadIssue> merged = new ArrayList<>(r.issues());
        merged.addAll(issues);
        return new EvalReport(r.source(), r.policy(), r.correct(), r.total(), r.accuracy(), r.unparseable(),
                r.missing(), r.expectedAccuracy(), r.byCategory(), r.missingColumns(), r.questions(), merged);
    }

    /**
     * One problem's outcome: the prompt and answer text, or why it has none ({@code image} set when its image is
     * missing, which ScienceQA counts as wrong). Serializable: a Spark task returns it to the driver.
     */
    public record Answered(String id, String prompt, String text, String issue, String image)
            implements java.io.Serializable {}

    /**
     * Answers one problem as {@link #run} does (a missing image or a model refusal is the problem's issue, not an
     * error): the unit a distributed run (glimpse-spark) executes per problem, so it answers exactly as this one.
     */
    public static Answered answerOne(Model model, Problem p, Path imagesDir, Scoring scoring) {
        Path image = null;
        if (p.hasImage()) {
            image = ScienceQaDataset.imagePath(p, imagesDir);
            if (!Files.isRegularFile(image)) {
                return new Answered(p.id(), null, null, "image missing: the question is counted as wrong",
                        image.toString());
            }
        }
        try {
            return new Answered(p.id(), model.prompt(p), answer(model, p, image, scoring), null, null);
        } catch (dev.glimpse.core.BadInputException e) {
            // e.g. a prompt longer than the model's context: this question is wrong, the run goes on
            return new Answered(p.id(), null, null, "not answered: " + e.getMessage(), null);
        }
    }

    /** Appends one answer to answers.jsonl in LLaVA's answer format. */
    private static void append(Path answers, Answered a, ObjectMapper json) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("question_id", a.id());
        row.put("prompt", a.prompt());
        row.put("text", a.text());
        try {
            Files.writeString(answers, json.writeValueAsString(row) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new GlimpseException("cannot append to " + answers + ": " + e.getMessage(), e);
        }
    }

    /** The model's answer text: generated, or the letter of the likeliest option. */
    static String answer(Model model, Problem p, Path image, Scoring scoring) {
        if (scoring == Scoring.GENERATE) {
            return model.generate(p, image).strip();
        }
        double[] ll = model.score(p, image);
        if (ll.length != p.choices().size()) {
            throw new IllegalStateException("the model scored " + ll.length + " choices of problem " + p.id()
                    + ", which has " + p.choices().size());
        }
        int best = 0;
        for (int i = 1; i < ll.length; i++) {
            if (ll[i] > ll[best]) {
                best = i;
            }
        }
        return String.valueOf((char) ('A' + best));
    }
}
