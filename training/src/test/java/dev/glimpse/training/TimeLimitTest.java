package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.CausalLM;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The time budget, driven by a clock that advances a fixed time at every reading (the trainer reads it once at the
 * start and once per step), so each case happens exactly, however loaded the machine is.
 */
class TimeLimitTest {
    /** A clock whose every reading is {@code tickMillis} later than the one before. */
    private static LongSupplier ticking(long tickMillis) {
        long[] now = {0};
        return () -> now[0] += tickMillis * 1_000_000L;
    }

    private static AdapterTrainer.Result train(Path out, Duration limit, LongSupplier clock) {
        ToyTask task = new ToyTask(40, 11);
        try (CausalLM lm = ToyTask.lm()) {
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, ToyTask.DIM, lm.config().hiddenSize(), false, 3);
            TrainingOptions o = TrainingOptions.builder().batchSize(4).learningRate(1e-3).maxSteps(100_000)
                    .timeLimit(limit).checkpointEvery(0).build();
            return new AdapterTrainer(lm, p, o).clock(clock).train(task.examples, task.features::get, ToyTask.TOKENS,
                    out, false, Progress.NONE, null);
        }
    }

    @Test
    void theBudgetPlansTheStepsThatFitAfterMeasuringThree(@TempDir Path out) {
        // 0.25 s a step, 2 s: after 3 steps (0.75 s) 1.25 s remain, 5 more steps: a plan of 8, run to its end
        AdapterTrainer.Result r = train(out, Duration.ofSeconds(2), ticking(250));
        assertEquals(8, r.plannedSteps());
        assertEquals(8, r.steps());
        assertFalse(r.stoppedByTimeLimit(), "the plan ends the run, not the clock");
        assertTrue(Files.isRegularFile(r.adapterWeights()));
    }

    @Test
    void stepsSlowerThanTheBudgetStopBeforeThePlanAndCutIt(@TempDir Path out) {
        // 2 s a step, 3 s: the second step would end past the budget, before three steps could be measured. The
        // plan used to stay at maxSteps then (TimeLimitTest failed under load with "the plan was cut to fit: 100000")
        AdapterTrainer.Result r = train(out, Duration.ofSeconds(3), ticking(2000));
        assertTrue(r.stoppedByTimeLimit());
        assertEquals(1, r.steps());
        assertEquals(1, r.plannedSteps(), "the plan is what the budget allowed");
        assertTrue(Files.isRegularFile(r.adapterWeights()), "the adapter is saved when time runs out");
    }

    @Test
    void aPlannedRunThatSlowsDownStopsAtTheBudget(@TempDir Path out) {
        // steps take 0.25 s until the plan (8 steps in 2 s) is made, then 1 s: the clock stops it before the plan
        long[] now = {0};
        long[] readings = {0};
        LongSupplier slowing = () -> now[0] += (readings[0]++ <= 3 ? 250 : 1000) * 1_000_000L;
        AdapterTrainer.Result r = train(out, Duration.ofSeconds(2), slowing);
        assertEquals(8, r.plannedSteps());
        assertTrue(r.stoppedByTimeLimit());
        assertTrue(r.steps() < r.plannedSteps(), r.steps() + " of " + r.plannedSteps());
    }
}
