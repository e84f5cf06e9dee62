package dev.glimpse.eval;

import java.util.List;
import java.util.Map;

/**
 * The outcome of scoring: overall and per-category accuracy in ScienceQA's columns, how many answers could not be
 * parsed or were missing, and one record per question for error analysis.
 *
 * @param expectedAccuracy under the scienceqa policy, the accuracy expected over the random fallback draws
 *     (parsed answers count 1 or 0, each failure 1/number of choices); null otherwise
 * @param missingColumns categories that cannot be computed from the data given (e.g. NAT without subjects)
 */
public record EvalReport(String source, String policy, int correct, int total, double accuracy, int unparseable,
                         int missing, Double expectedAccuracy, Map<String, Category> byCategory,
                         List<String> missingColumns, List<QuestionResult> questions, List<LoadIssue> issues) {

    /** Accuracy in percent over one column's questions. */
    public record Category(int correct, int total, double accuracy) {}

    /**
     * One question: its prompt, the raw output, the parsed letter (null when unparseable), the index scored (after
     * any fallback), the gold letter and whether it was right.
     */
    public record QuestionResult(String id, String prompt, String output, String parsed, int predicted,
                                 String gold, boolean correct, boolean fallback, List<String> columns) {}

    /** ScienceQA's columns in the published order. */
    public static final List<String> COLUMNS = List.of("NAT", "SOC", "LAN", "TXT", "IMG", "NO", "G1-6", "G7-12", "Avg");
}
