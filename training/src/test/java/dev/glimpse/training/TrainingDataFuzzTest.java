package dev.glimpse.training;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.glimpse.core.Fuzzing;
import java.nio.file.Path;

/** Training data files from outside (Glimpse jsonl, LLaVA conversations): read, or refused with a BadInputException. */
class TrainingDataFuzzTest {
    static final Path DIR = Fuzzing.scratch("training");

    @FuzzTest(maxDuration = "60s")
    void jsonl(byte[] bytes) {
        Path p = Fuzzing.write(DIR, "train.jsonl", bytes);
        Fuzzing.onlyBadInput(() -> TrainingData.jsonl(p));
    }

    @FuzzTest(maxDuration = "60s")
    void llavaConversations(byte[] bytes) {
        Path p = Fuzzing.write(DIR, "llava.json", bytes);
        Fuzzing.onlyBadInput(() -> TrainingData.llavaConversations(p, DIR));
    }
}
