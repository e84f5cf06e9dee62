package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.CausalLM;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TimeLimitTest {
    @Test
    void aTimeBudgetPlansTheStepsAndStopsCleanly(@TempDir Path out) {
        ToyTask task = new ToyTask(40, 11);
        try (CausalLM lm = ToyTask.lm()) {
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, ToyTask.DIM, lm.config().hiddenSize(), false, 3);
            TrainingOptions o = TrainingOptions.builder().batchSize(4).learningRate(1e-3).maxSteps(100_000)
                    .timeLimit(Duration.ofSeconds(3)).checkpointEvery(0).build();
            long t0 = System.nanoTime();
            AdapterTrainer.Result r = new AdapterTrainer(lm, p, o).train(task.examples, task.features::get,
                    ToyTask.TOKENS, out, false, Progress.NONE, null);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertTrue(r.plannedSteps() < 100_000, "the plan was cut to fit: " + r.plannedSteps());
            assertTrue(r.steps() >= 3 && r.steps() <= r.plannedSteps(), r.steps() + " of " + r.plannedSteps());
            assertTrue(secs < 3 + 5, "stopped near the budget: " + secs + " s");
            assertTrue(Files.isRegularFile(r.adapterWeights()), "the adapter is saved when time runs out");
        }
    }
}
