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
    /** What a model must do to be evaluated; {@code image} is null for text-only problems. */
    public interface Model {
        String generate(String prompt, Path image);

        double[] score(String prompt, Path image, List<String> continuations);
    }

    /** How answers are obtained. */
    public enum Scoring {
        /** log-likelihood of each option's letter. */
        LETTERS,
        /** log-likelihood of each option's text. */
        OPTIONS,
        /** greedy generation, parsed by the answer policy. */
        GENERATE;

        public static Scoring parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "likelihood", "letters" -> LETTERS;
                case "options" -> OPTIONS;
                case "generate" -> GENERATE;
                default -> throw new dev.glimpse.core.BadInputException("unknown scoring '" + s
                        + "' (expected likelihood, options or generate)");
            };
        }
    }

    private EvalRunner() {}

    /**
     * The prompt for a problem: LLaVA-1.5's (the question file's text and the single-letter instruction) when
     * {@code format} is null or "llava", else ScienceQA's format code (e.g. CQM-A). Image problems start with
     * {@code <image>}.
     */
    public static String prompt(Problem p, String format) {
        String body = format == null || format.equalsIgnoreCase("llava") ? PromptFormat.llavaPrompt(p)
                : PromptFormat.parse(format).testPrompt(p, false);
        return p.hasImage() ? "<image>\n" + body : body;
    }

    public static EvalReport run(ScienceQaDataset data, Path imagesDir, Model model, Scoring scoring, String format,
                                 AnswerPolicy policy, Path outDir, Progress progress) {
        Path answers = outDir.resolve("answers.jsonl");
        List<LoadIssue> issues = new ArrayList<>();
        Map<String, String> done = new LinkedHashMap<>();
        ObjectMapper json = new ObjectMapper();
        try {
            Files.createDirectories(outDir);
            if (Files.isRegularFile(answers)) {
                Predictions prev = Predictions.llavaAnswers(answers);
                done.putAll(prev.texts());
            }
        } catch (IOException e) {
            throw new GlimpseException("cannot prepare " + outDir + ": " + e.getMessage(), e);
        }
        List<Problem> todo = data.problems().stream().filter(p -> !done.containsKey(p.id())).toList();
        int n = 0;
        progress.update(data.size() - todo.size(), data.size(), "");
        for (Problem p : todo) {
            Path image = null;
            if (p.hasImage()) {
                image = ScienceQaDataset.imagePath(p, imagesDir);
                if (!Files.isRegularFile(image)) {
                    issues.add(new LoadIssue(image, 0, p.id(), "image missing: the question is counted as wrong"));
                    progress.update(data.size() - todo.size() + ++n, data.size(), "missing image");
                    continue;
                }
            }
            String prompt = prompt(p, format);
            String text;
            try {
                text = answer(model, p, prompt, image, scoring);
            } catch (dev.glimpse.core.BadInputException e) {
                // e.g. a prompt longer than the model's context: this question is wrong, the run goes on
                issues.add(new LoadIssue(answers, 0, p.id(), "not answered: " + e.getMessage()));
                progress.update(data.size() - todo.size() + ++n, data.size(), "skipped");
                continue;
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("question_id", p.id());
            row.put("prompt", prompt);
            row.put("text", text);
            try {
                Files.writeString(answers, json.writeValueAsString(row) + "\n", StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new GlimpseException("cannot append to " + answers + ": " + e.getMessage(), e);
            }
            progress.update(data.size() - todo.size() + ++n, data.size(), "");
        }
        Predictions all = Files.isRegularFile(answers) ? Predictions.llavaAnswers(answers)
                : new Predictions(Map.of(), Map.of(), List.of());
        EvalReport r = Scorer.scoreTexts(data, all, policy, 0, answers.toString());
        List<LoadIssue> merged = new ArrayList<>(r.issues());
        merged.addAll(issues);
        return new EvalReport(r.source(), r.policy(), r.correct(), r.total(), r.accuracy(), r.unparseable(),
                r.missing(), r.expectedAccuracy(), r.byCategory(), r.missingColumns(), r.questions(), merged);
    }

    /** The model's answer text: generated, or the letter of the likeliest option. */
    static String answer(Model model, Problem p, String prompt, Path image, Scoring scoring) {
        if (scoring == Scoring.GENERATE) {
            return model.generate(prompt, image).strip();
        }
        List<String> conts = new ArrayList<>();
        for (int i = 0; i < p.choices().size(); i++) {
            conts.add(" " + (scoring == Scoring.LETTERS ? String.valueOf((char) ('A' + i)) : p.choices().get(i)));
        }
        double[] ll = model.score(prompt, image, conts);
        int best = 0;
        for (int i = 1; i < ll.length; i++) {
            if (ll[i] > ll[best]) {
                best = i;
            }
        }
        return String.valueOf((char) ('A' + best));
    }
}
