package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.Bundle;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.LoraConfig;
import dev.glimpse.vision.Features;
import dev.glimpse.vision.ImageProcessor;
import dev.glimpse.vision.VisionTower;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TrainingRun is the wiring the CLI, the demo and the examples share: the same training, plus its files. */
class TrainingRunTest {
    /** The toy task's "tower": only its shape and names matter to a run over cached features. */
    record ToyTower() implements VisionTower {
        public String id() {
            return "toy";
        }

        public String name() {
            return "toy-tower";
        }

        public String layer() {
            return "-2";
        }

        public ImageProcessor processor() {
            throw new UnsupportedOperationException("features come from the toy task");
        }

        public int numTokens() {
            return ToyTask.TOKENS;
        }

        public int hiddenSize() {
            return ToyTask.DIM;
        }

        public Features encodePixels(float[] pixelValues, int batch) {
            throw new UnsupportedOperationException("features come from the toy task");
        }

        public void close() {}
    }

    @Test
    void aRunTrainsWhatTheTrainerTrainsAndWritesTheBundle(@TempDir Path dir) {
        ToyTask task = new ToyTask(40, 11);
        TrainingOptions o = TrainingOptions.builder().batchSize(4).learningRate(5e-3).maxSteps(4).evalEvery(2)
                .checkpointEvery(0).seed(3).build();
        float[] byHand;
        try (CausalLM lm = ToyTask.lm()) {
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, ToyTask.DIM, lm.config().hiddenSize(), false,
                    3);
            new AdapterTrainer(lm, p, o).train(task.examples, task.features::get, ToyTask.TOKENS, dir.resolve("hand"),
                    false, Progress.NONE, null);
            byHand = p.parameters().values().get("linear_2.weight");
        }
        TrainingRun.Result r;
        try (CausalLM lm = ToyTask.lm()) {
            r = TrainingRun.builder(new ToyTower(), lm).examples(task.examples).features(task.features::get)
                    .template(PromptTemplate.RAW).options(o).out(dir.resolve("run"))
                    .bundle(dir.resolve("run"), "towers/toy", "llms/stories260k", "stories260k").run();
        }
        // the same seed, options and examples: the run trains exactly what the trainer trains by hand
        assertArrayEquals(byHand, r.projector().parameters().values().get("linear_2.weight"));
        assertEquals(4, r.training().steps());
        Bundle b = Bundle.read(dir.resolve("run"));
        assertEquals(new Bundle("towers/toy", "-2", true, "llms/stories260k", "adapter", PromptTemplate.RAW, null), b);
        Adapter a = Adapter.load(dir.resolve("run").resolve("adapter"));
        assertEquals("stories260k", a.config().llm());
        assertEquals("toy-tower", a.config().tower());
        assertArrayEquals(r.projector().parameters().values().get("linear_2.weight"),
                a.projector().parameters().values().get("linear_2.weight"));
    }

    @Test
    void anLlmAdapterIsNamedRelativeToTheBundle(@TempDir Path dir) {
        ToyTask task = new ToyTask(16, 5);
        TrainingOptions o = TrainingOptions.builder().batchSize(4).maxSteps(2).checkpointEvery(0).build();
        try (CausalLM lm = ToyTask.lm()) {
            LanguageAdapter lora = LanguageAdapter.create(lm.config(), new LoraConfig(4, 8, false, 0,
                    List.of("q_proj"), List.of()), null, 1);
            TrainingRun.Result r = TrainingRun.builder(new ToyTower(), lm).examples(task.examples)
                    .features(task.features::get).llmAdapter(lora).options(o).out(dir.resolve("training"))
                    .bundle(dir.resolve("bundle"), "t", "l", "stories260k").run();
            assertEquals("../training/" + AdapterTrainer.LLM_ADAPTER, Bundle.read(dir.resolve("bundle")).llmAdapter());
            assertTrue(LanguageAdapter.existsIn(dir.resolve("training").resolve(AdapterTrainer.LLM_ADAPTER)));
            assertEquals(lora, r.llmAdapter());
        }
        try (CausalLM lm = ToyTask.lm()) {
            TrainingRun.Result r = TrainingRun.builder(new ToyTower(), lm).examples(task.examples.subList(0, 12))
                    .heldOut(task.examples.subList(12, 16)).features(task.features::get).options(o)
                    .out(dir.resolve("plain")).run();
            assertNull(r.bundle(), "no bundle asked for, none written");
            assertTrue(!Files.exists(dir.resolve("plain").resolve(Bundle.FILE)));
            assertTrue(readMetrics(dir.resolve("plain")).contains("\"heldout_loss\""), "the held-out loss is logged");
        }
    }

    private static String readMetrics(Path run) {
        try {
            return Files.readString(run.resolve("metrics.jsonl"));
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
