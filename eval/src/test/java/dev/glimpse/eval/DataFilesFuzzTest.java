package dev.glimpse.eval;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.glimpse.core.Fuzzing;
import java.nio.file.Path;

/** ScienceQA and LLaVA question files and prediction files from outside: read, or refused with a BadInputException. */
class DataFilesFuzzTest {
    static final Path DIR = Fuzzing.scratch("eval");

    /** problems.json (ScienceQA's own format). */
    @FuzzTest(maxDuration = "60s")
    void scienceQaProblems(byte[] json) {
        Path p = Fuzzing.write(DIR, "problems.json", json);
        Fuzzing.onlyBadInput(() -> ScienceQaDataset.fromProblems(p));
    }

    /** LLaVA's llava_test_CQM-A.json questions. */
    @FuzzTest(maxDuration = "60s")
    void llavaQuestions(byte[] json) {
        Path p = Fuzzing.write(DIR, "llava_test.json", json);
        Fuzzing.onlyBadInput(() -> ScienceQaDataset.fromLlavaQuestions(p));
    }

    /** Answer files in every format eval reads (LLaVA jsonl answers, ScienceQA results, auto-detected). */
    @FuzzTest(maxDuration = "60s")
    void predictions(byte[] bytes) {
        Path p = Fuzzing.write(DIR, "answers.jsonl", bytes);
        Fuzzing.onlyBadInput(() -> Predictions.read(p));
        Fuzzing.onlyBadInput(() -> Predictions.llavaAnswers(p));
        Fuzzing.onlyBadInput(() -> Predictions.scienceQaResults(p));
    }
}
