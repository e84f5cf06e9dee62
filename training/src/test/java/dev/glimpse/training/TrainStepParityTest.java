package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.SafetensorsWriter;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.Projector;
import dev.glimpse.language.CausalLM;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One projector training step and five AdamW steps through frozen tiny-qwen2, against PyTorch. */
class TrainStepParityTest {
    static double relErr(float[] got, float[] want) {
        double err = 0;
        double scale = 0;
        for (int i = 0; i < want.length; i++) {
            err = Math.max(err, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return err / scale;
    }

    static int[][] rows(float[] flat, int b, int t, boolean slots) {
        int[][] out = new int[b][t];
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < t; j++) {
                int v = (int) flat[r * t + j];
                out[r][j] = slots && v == 319 ? MultimodalPrompt.SLOT : v;
            }
        }
        return out;
    }

    @Test
    void lossGradientsAndFiveAdamWStepsMatchPyTorch(@TempDir Path dir) {
        try (SafetensorsFile ref = SafetensorsFile.open(TestData.fixture("train-step").resolve("reference.safetensors"));
             CausalLM lm = CausalLM.load(TestData.fixture("tiny-qwen2"), GlimpseEngine.newCpuManager(),
                     DataType.FLOAT32)) {
            // the fixture's initial projector, saved in LLaVA names and read back like any adapter
            Path init = dir.resolve("init.safetensors");
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : List.of("linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias")) {
                w.add(Projector.PREFIX + n, DType.F32, ref.info("init." + n).shape(), ref.toFloats("init." + n));
            }
            w.write(init);
            Projector proj;
            try (dev.glimpse.core.Checkpoint c = dev.glimpse.core.Checkpoint.open(init)) {
                proj = Projector.fromCheckpoint(c, Projector.PREFIX);
            }
            float[] feats = ref.toFloats("features");
            List<float[]> images = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                images.add(java.util.Arrays.copyOfRange(feats, i * 16 * 48, (i + 1) * 16 * 48));
            }
            TrainingBatch batch = new TrainingBatch(rows(ref.toFloats("input_ids"), 2, 26, true),
                    rows(ref.toFloats("labels"), 2, 26, false), rows(ref.toFloats("attention_mask"), 2, 26, false),
                    images);
            TrainingOptions opts = TrainingOptions.builder().learningRate(1e-2).weightDecay(0).maxSteps(5).build();
            AdapterTrainer trainer = new AdapterTrainer(lm, proj, opts);
            AdapterTrainer.LossAndGrads first = trainer.lossAndGradients(batch);
            float want = ref.toFloats("initial_loss")[0];
            double lossRel = Math.abs(first.loss() - want) / Math.abs(want);
            assertTrue(lossRel <= 1e-5, "initial loss " + first.loss() + " vs " + want);
            double worstGrad = 0;
            for (Map.Entry<String, float[]> g : first.grads().entrySet()) {
                worstGrad = Math.max(worstGrad, relErr(g.getValue(), ref.toFloats("grad." + g.getKey())));
            }
            // measured 6.0e-7 relative
            assertTrue(worstGrad <= 1e-5, "gradient relative error " + worstGrad);
            float[] losses = ref.toFloats("losses");
            AdamW adam = new AdamW(0.9, 0.999, 1e-8, 0.0);
            double worstLoss = 0;
            for (int s = 0; s < 5; s++) {
                AdapterTrainer.LossAndGrads lg = trainer.lossAndGradients(batch);
                worstLoss = Math.max(worstLoss, Math.abs(lg.loss() - losses[s]) / Math.abs(losses[s]));
                adam.update(proj.parameters().values(), lg.grads(), 1e-2);
            }
            assertTrue(worstLoss <= 1e-5, "AdamW losses relative error " + worstLoss);
            double worstW = 0;
            for (Map.Entry<String, float[]> p : proj.parameters().values().entrySet()) {
                worstW = Math.max(worstW, relErr(p.getValue(), ref.toFloats("final." + p.getKey())));
            }
            assertTrue(worstW <= 1e-5, "final weights relative error " + worstW);
            System.out.printf("train-step: loss rel %.2g, grads rel %.2g, AdamW losses rel %.2g, final weights rel"
                    + " %.2g%n", lossRel, worstGrad, worstLoss, worstW);
            assertEquals(5, adam.step());
        }
    }
}
