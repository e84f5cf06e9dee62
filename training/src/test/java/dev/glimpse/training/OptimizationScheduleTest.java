package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Progress;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.CausalLM;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The learning-rate schedule, global-norm clipping and gradient accumulation, each against values worked by hand. */
class OptimizationScheduleTest {
    @Test
    void linearWarmupThenCosineToZero() {
        // 100 steps, 10 % warmup: 10 warmup steps reaching the base rate on the 10th (step 9)
        assertEquals(0.1, AdapterTrainer.learningRate(1.0, 0, 100, 0.1), 1e-15);
        assertEquals(0.5, AdapterTrainer.learningRate(1.0, 4, 100, 0.1), 1e-15);
        assertEquals(1.0, AdapterTrainer.learningRate(1.0, 9, 100, 0.1), 1e-15);
        // then cosine over the remaining 90 steps: progress (step - 10) / 90
        assertEquals(1.0, AdapterTrainer.learningRate(1.0, 10, 100, 0.1), 1e-15);
        assertEquals(0.5, AdapterTrainer.learningRate(1.0, 55, 100, 0.1), 1e-15);
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 89 / 90.0)), AdapterTrainer.learningRate(1.0, 99, 100, 0.1),
                1e-15);
        assertEquals(2e-3 * 0.5 * (1 + Math.cos(Math.PI * 30 / 90.0)),
                AdapterTrainer.learningRate(2e-3, 40, 100, 0.1), 1e-18);
        // warmup rounds up: 3 % of 10 steps is one step, at the full rate
        assertEquals(1.0, AdapterTrainer.learningRate(1.0, 0, 10, 0.03), 1e-15);
        // no warmup: cosine from the first step; never negative past the plan
        assertEquals(1.0, AdapterTrainer.learningRate(1.0, 0, 10, 0.0), 1e-15);
        assertEquals(0.0, AdapterTrainer.learningRate(1.0, 10, 10, 0.0), 1e-15);
        assertEquals(0.0, AdapterTrainer.learningRate(1.0, 15, 10, 0.0), 1e-15);
        // monotone: rises through warmup, falls after it
        for (int s = 1; s < 100; s++) {
            double prev = AdapterTrainer.learningRate(1.0, s - 1, 100, 0.1);
            double cur = AdapterTrainer.learningRate(1.0, s, 100, 0.1);
            assertTrue(s < 10 ? cur > prev : cur <= prev, "step " + s);
        }
    }

    @Test
    void clippingScalesAllTensorsTogetherByTheGlobalNorm() {
        Map<String, float[]> g = grads(new float[] {3, 0}, new float[] {0, 4});
        assertEquals(5.0, AdapterTrainer.clipGradients(g, 1.0), 1e-12, "the norm before clipping is returned");
        float coef = (float) (1.0 / (5.0 + 1e-6));
        assertArrayEquals(new float[] {3 * coef, 0}, g.get("a"), 0f);
        assertArrayEquals(new float[] {0, 4 * coef}, g.get("b"), 0f);
        assertEquals(1.0, AdapterTrainer.clipGradients(g, 0), 1e-6, "the global norm is now 1");

        Map<String, float[]> small = grads(new float[] {0.3f, 0}, new float[] {0, 0.4f});
        assertEquals(0.5, AdapterTrainer.clipGradients(small, 1.0), 1e-7);
        assertArrayEquals(new float[] {0.3f, 0}, small.get("a"), 0f, "under the limit nothing changes");
        Map<String, float[]> off = grads(new float[] {30, 0}, new float[] {0, 40});
        assertEquals(50.0, AdapterTrainer.clipGradients(off, 0), 1e-12);
        assertArrayEquals(new float[] {30, 0}, off.get("a"), 0f, "0 disables clipping");
    }

    @Test
    void accumulationSumsThenTheTrainerAverages() {
        Map<String, float[]> sum = AdapterTrainer.accumulate(null, grads(new float[] {1, 2}, new float[] {3}));
        sum = AdapterTrainer.accumulate(sum, grads(new float[] {10, 20}, new float[] {30}));
        AdapterTrainer.scale(sum, 0.5f);
        assertArrayEquals(new float[] {5.5f, 11f}, sum.get("a"), 0f);
        assertArrayEquals(new float[] {16.5f}, sum.get("b"), 0f);
    }

    /**
     * Two micro-batches of 2 with accumulation 2 make the same optimizer step as one batch of 4, when every example
     * has the same number of answer tokens (each micro-batch's loss is a mean over its answer tokens).
     */
    @Test
    void twoAccumulatedHalvesEqualOneFullBatch(@TempDir Path dir) {
        ToyTask task = new ToyTask(40, 5);
        try (CausalLM lm = ToyTask.lm()) {
            BatchBuilder bb = new BatchBuilder(lm, ToyTask.TOKENS);
            List<TrainingExample> four = new ArrayList<>();
            int answerTokens = -1;
            for (TrainingExample ex : task.examples) {
                int n = 0;
                for (int l : bb.tokenize(ex).labels()) {
                    n += l != -100 ? 1 : 0;
                }
                if (answerTokens < 0) {
                    answerTokens = n;
                }
                if (n == answerTokens && four.size() < 4) {
                    four.add(ex);
                }
            }
            assertEquals(4, four.size());
            Path whole = dir.resolve("whole");
            Path halves = dir.resolve("halves");
            train(lm, four, task, whole, 4, 1);
            train(lm, four, task, halves, 2, 2);
            try (SafetensorsFile a = SafetensorsFile.open(whole.resolve("adapter.safetensors"));
                 SafetensorsFile b = SafetensorsFile.open(halves.resolve("adapter.safetensors"));
                 SafetensorsFile init = SafetensorsFile.open(dir.resolve("init.safetensors"))) {
                for (var t : a.tensors()) {
                    float[] x = a.toFloats(t.name());
                    float[] y = b.toFloats(t.name());
                    float[] x0 = init.toFloats(t.name());
                    double moved = 0;
                    double diff = 0;
                    for (int i = 0; i < x.length; i++) {
                        moved = Math.max(moved, Math.abs(x[i] - x0[i]));
                        diff = Math.max(diff, Math.abs(x[i] - y[i]));
                    }
                    assertTrue(moved > 1e-4, t.name() + " took a step: " + moved);
                    // with eps = 1 the first Adam step is g / (|g| + 1), nearly linear in the gradient, so a missing
                    // 1/accumulation factor would show as a 2x larger step; the two paths differ by float rounding
                    assertTrue(diff <= 1e-6 * Math.max(1, moved / 1e-3), t.name() + " differs by " + diff + " (step size " + moved + ")");
                }
            }
        }
    }

    private static void train(CausalLM lm, List<TrainingExample> examples, ToyTask task, Path out, int batch,
                              int accumulation) {
        Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, ToyTask.DIM, lm.config().hiddenSize(), false, 3);
        p.save(out.getParent().resolve("init.safetensors"));
        TrainingOptions o = TrainingOptions.builder().batchSize(batch).gradientAccumulation(accumulation)
                .learningRate(1.0).eps(1.0).warmupRatio(0).clipNorm(0).maxSteps(1).checkpointEvery(0).seed(7).build();
        AdapterTrainer.Result r = new AdapterTrainer(lm, p, o).train(examples, task.features::get, ToyTask.TOKENS,
                out, false, Progress.NONE, null);
        assertEquals(1, r.steps());
    }

    private static Map<String, float[]> grads(float[] a, float[] b) {
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("a", a);
        m.put("b", b);
        return m;
    }
}
