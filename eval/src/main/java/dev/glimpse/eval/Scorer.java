package dev.glimpse.eval;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** Scores predictions against a dataset exactly as the published scripts count them. */
public final class Scorer {
    private Scorer() {}

    /** Parses each output with {@code policy}; missing answers are wrong and counted. */
    public static EvalReport scoreTexts(ScienceQaDataset data, Predictions preds, AnswerPolicy policy, long seed,
                                        String source) {
        Random random = new Random(seed);
        List<EvalReport.QuestionResult> results = new ArrayList<>();
        int unparseable = 0;
        int missing = 0;
        double expected = 0;
        for (Problem p : data.problems()) {
            String out = preds.texts().get(p.id());
            if (out == null) {
                missing++;
            }
            String letter = policy.letter(out);
            int parsed = policy.index(out, p.choices().size());
            if (parsed < 0) {
                unparseable++;
                expected += 1.0 / p.choices().size();
            } else if (parsed == p.answer()) {
                expected += 1;
            }
            int predicted = policy.resolve(parsed, p.choices().size(), random);
            results.add(new EvalReport.QuestionResult(p.id(), promptOf(p), out, parsed < 0 ? null : letter, predicted,
                    p.answerLetter(), predicted == p.answer(), parsed < 0 && predicted >= 0, columns(p, data)));
        }
        List<LoadIssue> issues = new ArrayList<>(data.issues());
        issues.addAll(preds.issues());
        issues.addAll(unknownIds(data, preds.texts().keySet(), source));
        Double exp = policy == AnswerPolicy.SCIENCEQA && !results.isEmpty() ? 100.0 * expected / results.size() : null;
        return build(data, results, policy.label(), unparseable, missing, exp, issues, source);
    }

    /** Scores recorded choice indices (a ScienceQA result file's "results"). */
    public static EvalReport scoreIndices(ScienceQaDataset data, Predictions preds, String source) {
        List<EvalReport.QuestionResult> results = new ArrayList<>();
        int missing = 0;
        for (Problem p : data.problems()) {
            Integer idx = preds.indices().get(p.id());
            if (idx == null) {
                missing++;
            }
            int predicted = idx == null ? -1 : idx;
            String letter = predicted >= 0 && predicted < 26 ? String.valueOf((char) ('A' + predicted)) : null;
            results.add(new EvalReport.QuestionResult(p.id(), promptOf(p), preds.texts().get(p.id()), letter,
                    predicted, p.answerLetter(), predicted == p.answer(), false, columns(p, data)));
        }
        List<LoadIssue> issues = new ArrayList<>(data.issues());
        issues.addAll(preds.issues());
        issues.addAll(unknownIds(data, preds.indices().keySet(), source));
        return build(data, results, "recorded", 0, missing, null, issues, source);
    }

    /** Builds a report from per-question results computed elsewhere (e.g. by a model run). */
    public static EvalReport fromResults(ScienceQaDataset data, List<EvalReport.QuestionResult> results, String policy,
                                         String source) {
        int unparseable = (int) results.stream().filter(r -> r.parsed() == null).count();
        List<LoadIssue> issues = new ArrayList<>(data.issues());
        return build(data, results, policy, unparseable, data.size() - results.size(), null, issues, source);
    }

    private static List<LoadIssue> unknownIds(ScienceQaDataset data, Set<String> ids, String source) {
        List<LoadIssue> out = new ArrayList<>();
        Set<String> known = new HashSet<>();
        data.problems().forEach(p -> known.add(p.id()));
        for (String id : ids) {
            if (!known.contains(id)) {
                out.add(new LoadIssue(java.nio.file.Path.of(source == null ? "predictions" : source), 0, id,
                        "answer for an id that is not among the questions"));
            }
        }
        return out;
    }

    private static String promptOf(Problem p) {
        return p.prompt() != null ? p.prompt() : PromptFormat.parse("CQM-A").testPrompt(p, false);
    }

    /** The ScienceQA columns a problem counts in. */
    static List<String> columns(Problem p, ScienceQaDataset data) {
        List<String> c = new ArrayList<>();
        if (p.subject() != null) {
            switch (p.subject()) {
                case "natural science" -> c.add("NAT");
                case "social science" -> c.add("SOC");
                case "language science" -> c.add("LAN");
                default -> { }
            }
        }
        if (p.hasText()) {
            c.add("TXT");
        }
        if (p.hasImage()) {
            c.add("IMG");
        }
        if (p.noContext()) {
            c.add("NO");
        }
        if (p.grade() != null && p.grade().startsWith("grade")) {
            try {
                int g = Integer.parseInt(p.grade().substring(5));
                c.add(g <= 6 ? "G1-6" : "G7-12");
            } catch (NumberFormatException ignored) {
                // an unknown grade counts in no grade column
            }
        }
        c.add("Avg");
        return c;
    }

    private static EvalReport build(ScienceQaDataset data, List<EvalReport.QuestionResult> results, String policy,
                                    int unparseable, int missing, Double expected, List<LoadIssue> issues,
                                    String source) {
        boolean meta = data.hasMetadata();
        List<String> missingColumns = meta ? List.of() : List.of("NAT", "SOC", "LAN", "G1-6", "G7-12");
        Map<String, int[]> counts = new LinkedHashMap<>();
        for (String col : EvalReport.COLUMNS) {
            counts.put(col, new int[2]);
        }
        int correct = 0;
        for (EvalReport.QuestionResult r : results) {
            if (r.correct()) {
                correct++;
            }
            for (String col : r.columns()) {
                int[] n = counts.get(col);
                n[1]++;
                if (r.correct()) {
                    n[0]++;
                }
            }
        }
        Map<String, EvalReport.Category> by = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> e : counts.entrySet()) {
            if (missingColumns.contains(e.getKey())) {
                continue;
            }
            int[] n = e.getValue();
            by.put(e.getKey(), new EvalReport.Category(n[0], n[1], n[1] == 0 ? 0 : 100.0 * n[0] / n[1]));
        }
        int total = data.size();
        double acc = total == 0 ? 0 : 100.0 * correct / total;
        return new EvalReport(source, policy, correct, total, acc, unparseable, missing, expected, by, missingColumns,
                results, issues);
    }
}
