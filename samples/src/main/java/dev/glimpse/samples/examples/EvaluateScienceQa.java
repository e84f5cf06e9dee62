package dev.glimpse.samples.examples;

import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.Predictions;
import dev.glimpse.eval.Scorer;
import dev.glimpse.eval.ScienceQaDataset;
import java.nio.file.Path;

/**
 * Score saved answers exactly as LLaVA's and ScienceQA's scripts do. Arguments: the LLaVA question file and an
 * answer file (LLaVA JSONL or a ScienceQA result JSON).
 */
public final class EvaluateScienceQa {
    private EvaluateScienceQa() {}

    public static void main(String[] args) {
        ScienceQaDataset questions = ScienceQaDataset.fromLlavaQuestions(Path.of(args[0]));
        Predictions answers = Predictions.read(Path.of(args[1]));
        for (AnswerPolicy policy : AnswerPolicy.values()) {
            EvalReport r = Scorer.scoreTexts(questions, answers, policy, 0, args[1]);
            System.out.printf("%-9s %d / %d = %.2f %% (%d unparseable)%n", policy.label(), r.correct(), r.total(),
                    r.accuracy(), r.unparseable());
        }
    }
}
