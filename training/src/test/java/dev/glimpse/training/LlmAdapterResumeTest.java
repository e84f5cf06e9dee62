package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.AdaptionPromptConfig;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.LoraConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training LoRA (with dropout) and adaption prompts beside the projector keeps the trainer's promises: a run stopped
 * after a checkpoint and resumed ends with exactly the weights of the uninterrupted run, and the loss falls.
 */
class LlmAdapterResumeTest {
    static final int STEPS = 6;

    static AdapterTrainer.Result run(Path out, boolean resume, int failAfter) {
        ToyTask task = new ToyTask(40, 11);
        try (CausalLM lm = ToyTask.lm()) {
            Projector p = Projector.initialize(ProjectorType.LINEAR, ToyTask.DIM, lm.config().hiddenSize(), false, 3);
            LanguageAdapter a = LanguageAdapter.create(lm.config(), new LoraConfig(4, 8, true, 0.1,
                    LoraConfig.parseTargets("q,v,down"), List.of()), new AdaptionPromptConfig(3, 2), 5);
            TrainingOptions o = TrainingOptions.builder().batchSize(4).learningRate(5e-3).llmAdapterLearningRate(2e-3)
                    .warmupRatio(0.1).clipNorm(1.0).maxSteps(STEPS).checkpointEvery(3).seed(7).build();
            AdapterTrainer t = new AdapterTrainer(lm, p, a, o);
            Progress stop = (done, total, status) -> {
                if (failAfter > 0 && done > failAfter) {
                    throw new IllegalStateException("stopped at step " + done);
                }
            };
            return t.train(task.examples, task.features::get, ToyTask.TOKENS, out, resume, stop, null);
        }
    }

    @Test
    void resumedRunEqualsTheUninterruptedOne(@TempDir Path dir) throws Exception {
        AdapterTrainer.Result full = run(dir.resolve("straight"), false, 0);
        assertEquals(STEPS, full.steps());
        assertTrue(full.finalLoss() < full.losses().get(0)[1], "loss falls: " + full.losses().get(0)[1] + " -> "
                + full.finalLoss());
        Path cut = dir.resolve("cut");
        assertThrows(IllegalStateException.class, () -> run(cut, false, 4));
        AdapterTrainer.Result resumed = run(cut, true, 0);
        assertEquals(STEPS, resumed.steps());
        for (String f : List.of("adapter.safetensors", "llm_adapter/lora/adapter_model.safetensors",
                "llm_adapter/adaption_prompt/adapter_model.safetensors")) {
            assertTrue(Files.isRegularFile(cut.resolve(f)), f);
            double diff = ResumeAndFaultTest.maxAbsDiff(dir.resolve("straight").resolve(f), cut.resolve(f));
            assertEquals(0.0, diff, 1e-6, f + ": resumed differs from uninterrupted by " + diff);
        }
        LanguageAdapter saved = LanguageAdapter.load(cut.resolve("llm_adapter"));
        assertTrue(saved.lora().orElseThrow().rslora() && saved.adaptionPrompt().isPresent());
    }
}
