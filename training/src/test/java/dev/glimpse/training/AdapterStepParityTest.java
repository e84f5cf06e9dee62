package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.Projector;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * One joint training step of every adapter kind — linear projector, LoRA on q/v/down_proj, an adaption prompt with
 * the multimodal visual feature — through frozen tiny-llama: loss, every gradient, and three AdamW steps with two
 * learning rates, against the plain-PyTorch reference of tools/fixtures/make_adapter_fixtures.py.
 */
class AdapterStepParityTest {
    // measured: loss 1e-7, gradients <= 2e-6 and parameters after 3 steps <= 1e-6 relative (fp32); the bounds leave
    // room for other CPUs' kernels and fail a 30x regression
    static final double LOSS_TOL = 1e-5;
    static final double GRAD_TOL = 2e-5;
    static final double PARAM_TOL = 1e-5;

    @Test
    void lossGradientsAndAdamWStepsMatchPyTorch() {
        Path dir = TestData.fixture("adapter-step");
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             CausalLM lm = CausalLM.load(TestData.fixture("tiny-llama"), GlimpseEngine.newCpuManager(),
                     DataType.FLOAT32); NDManager m = GlimpseEngine.newCpuManager()) {
            Projector proj;
            try (Checkpoint c = Checkpoint.open(dir.resolve("projector.safetensors"))) {
                proj = Projector.fromCheckpoint(c, Projector.PREFIX);
            }
            LanguageAdapter adapter = LanguageAdapter.load(dir);
            assertTrue(adapter.lora().isPresent() && adapter.adaptionPrompt().isPresent());
            TrainingOptions o = TrainingOptions.builder().learningRate(1e-2).llmAdapterLearningRate(5e-3)
                    .weightDecay(0).maxSteps(3).build();
            AdapterTrainer trainer = new AdapterTrainer(lm, proj, adapter, o);
            int[][] ids = ints(ref.toNDArray(m, "batch.ids", DataType.FLOAT32).toLongArray(), 2);
            int[][] labels = ints(ref.toNDArray(m, "batch.labels", DataType.FLOAT32).toLongArray(), 2);
            int[][] mask = ints(ref.toNDArray(m, "batch.mask", DataType.FLOAT32).toLongArray(), 2);
            TrainingBatch batch = new TrainingBatch(ids, labels, mask, List.of(ref.toFloats("batch.features")));

            AdapterTrainer.LossAndGrads lg = trainer.lossAndGradients(batch);
            float want = ref.toFloats("step0.loss")[0];
            assertEquals(want, lg.loss(), LOSS_TOL * Math.abs(want), "loss");
            assertEquals(trainer.parameters().values().keySet(), lg.grads().keySet());
            assertEquals(2 + 12 + 2, lg.grads().size(), "projector 2, LoRA 2x3x2, prompt and gate");
            double worst = 0;
            for (Map.Entry<String, float[]> e : lg.grads().entrySet()) {
                double err = TrainStepParityTest.relErr(e.getValue(), ref.toFloats("step0.grad." + e.getKey()));
                worst = Math.max(worst, err);
                assertTrue(err <= GRAD_TOL, e.getKey() + " gradient relative error " + err);
            }
            System.out.printf("adapter step: loss %.7f vs %.7f, worst gradient relative error %.3g%n", lg.loss(),
                    want, worst);

            AdamW adam = new AdamW(0.9, 0.999, 1e-8, 0);
            float[] losses = ref.toFloats("final.losses");
            for (int step = 0; step < 3; step++) {
                AdapterTrainer.LossAndGrads g = trainer.lossAndGradients(batch);
                assertEquals(losses[step], g.loss(), LOSS_TOL * Math.abs(losses[step]), "loss at step " + step);
                adam.update(trainer.parameters().values(), g.grads(),
                        k -> proj.parameters().contains(k) ? 1e-2 : 5e-3);
            }
            // Adam divides by sqrt(v): where a gradient is at its rounding floor (5.8e-8 against a tensor maximum of
            // 0.057 in layer 1's down_proj lora_A), any implementation's noise becomes a step of about lr. Those
            // elements are held to Adam's step bound; every element whose first gradient is 1e4x above the floor is
            // held to 1e-5 of the tensor's scale.
            double worstParam = 0;
            int atFloor = 0;
            for (Map.Entry<String, float[]> e : trainer.parameters().values().entrySet()) {
                float[] got = e.getValue();
                float[] wantP = ref.toFloats("final.param." + e.getKey());
                float[] g0 = ref.toFloats("step0.grad." + e.getKey());
                double gMax = 0;
                double scale = 0;
                for (int i = 0; i < g0.length; i++) {
                    gMax = Math.max(gMax, Math.abs(g0[i]));
                    scale = Math.max(scale, Math.abs(wantP[i]));
                }
                double lr = proj.parameters().contains(e.getKey()) ? 1e-2 : 5e-3;
                for (int i = 0; i < got.length; i++) {
                    double err = Math.abs(got[i] - wantP[i]);
                    if (Math.abs(g0[i]) < 1e-4 * gMax) {
                        atFloor++;
                        assertTrue(err <= 2 * 3 * 3.2 * lr, e.getKey() + "[" + i + "] moved beyond Adam's bound");
                    } else {
                        worstParam = Math.max(worstParam, err / scale);
                        assertTrue(err / scale <= PARAM_TOL, e.getKey() + "[" + i + "] after 3 AdamW steps: "
                                + "relative error " + err / scale);
                    }
                }
            }
            assertTrue(atFloor < 10, atFloor + " elements at the gradient floor");
            System.out.printf("adapter step: parameters after 3 AdamW steps, worst relative error %.3g (%d elements at"
                    + " the gradient floor)%n", worstParam, atFloor);
        }
    }

    static int[][] ints(long[] flat, int rows) {
        int t = flat.length / rows;
        int[][] out = new int[rows][t];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < t; j++) {
                out[r][j] = (int) flat[r * t + j];
            }
        }
        return out;
    }
}
