package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.Precision;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mixed-precision training on the CPU. DJL 0.36's prebuilt JNI has no bf16 (see docs/gpu.md), so the CPU runs the
 * mixed-precision logic in fp16, the type that also needs loss scaling: working-type leaves, gradients cast back to
 * the fp32 masters, fp32 loss, skipped overflow steps, exact resume. bf16 takes the same code with another type and
 * no scaler; it is checked on a GPU by benchmarks/gpu/run.sh.
 *
 * <p>Tolerances from fp16's unit roundoff u = 2⁻¹¹ ≈ 4.9e-4: every activation is rounded to fp16 (relative error
 * ≤ u each time) about ten times per layer on the path from the projector to the loss and back, and the errors
 * compound over the two layers of the fixture, so elementwise gradient errors up to ~20u are possible; the loss is
 * taken in fp32 from fp16 logits and averages their errors. Measured here: loss 0.03u, worst gradient 5u (relative to
 * its largest element). The bounds are 2u for the loss and 16u for each gradient; an fp16 step whose gradients were
 * lost (a cast that cuts the graph) or taken in the wrong precision fails them by orders of magnitude. bf16 (u = 2⁻⁸)
 * gets the same bounds in its own u where the JNI has it.
 */
class MixedPrecisionTest {
    static final double U16 = Math.scalb(1.0, -11);
    /**
     * The loss-curve band: 4u relative at every step. Each step's loss carries ~u of rounding, and AdamW's normalised
     * updates keep the fp16 and fp32 weights within ~u of each other per step; measured over 25 steps: 1.06u.
     */
    static final double BAND = 4 * U16;

    private static TrainingBatch fixtureBatch(SafetensorsFile ref, NDManager m) {
        int[][] ids = AdapterStepParityTest.ints(ref.toNDArray(m, "batch.ids", DataType.FLOAT32).toLongArray(), 2);
        int[][] labels = AdapterStepParityTest.ints(ref.toNDArray(m, "batch.labels", DataType.FLOAT32).toLongArray(), 2);
        int[][] mask = AdapterStepParityTest.ints(ref.toNDArray(m, "batch.mask", DataType.FLOAT32).toLongArray(), 2);
        return new TrainingBatch(ids, labels, mask, List.of(ref.toFloats("batch.features")));
    }

    private static AdapterTrainer.LossAndGrads step(DataType type, SafetensorsFile ref, NDManager m) {
        return step(type, ref, m, false);
    }

    private static AdapterTrainer.LossAndGrads step(DataType type, SafetensorsFile ref, NDManager m,
                                                    boolean checkpointing) {
        Path dir = TestData.fixture("adapter-step");
        try (CausalLM lm = CausalLM.load(TestData.fixture("tiny-llama"), GlimpseEngine.newCpuManager(), type)) {
            Projector proj;
            try (Checkpoint c = Checkpoint.open(dir.resolve("projector.safetensors"))) {
                proj = Projector.fromCheckpoint(c, Projector.PREFIX);
            }
            TrainingOptions o = TrainingOptions.builder().dataType(type).activationCheckpointing(checkpointing)
                    .maxSteps(1).build();
            return new AdapterTrainer(lm, proj, LanguageAdapter.load(dir), o).lossAndGradients(fixtureBatch(ref, m));
        }
    }

    @Test
    void anFp16StepMatchesTheFp32StepWithinFp16sPrecisionAndReachesEveryMaster() {
        compareWithFp32(DataType.FLOAT16, U16);
    }

    @Test
    void bf16StepsWhereTheJniHasBf16AndIsRefusedInOneLineWhereItHasNot() {
        if (Precision.bfloat16Available()) {
            compareWithFp32(DataType.BFLOAT16, Math.scalb(1.0, -8));
            return;
        }
        assertFalse(Boolean.getBoolean("glimpse.expect.bf16"), "the bf16 stage's JNI did not load");
        BadInputException e = assertThrows(BadInputException.class, () -> CausalLM.load(TestData.fixture("tiny-llama"),
                GlimpseEngine.newCpuManager(), DataType.BFLOAT16));
        assertTrue(e.getMessage().contains("bf16") && e.getMessage().contains("docs/gpu.md")
                && !e.getMessage().contains("\n"), e.getMessage());
    }

    private static void compareWithFp32(DataType type, double u) {
        Path dir = TestData.fixture("adapter-step");
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             NDManager m = GlimpseEngine.newCpuManager()) {
            AdapterTrainer.LossAndGrads full = step(DataType.FLOAT32, ref, m);
            AdapterTrainer.LossAndGrads low = step(type, ref, m);
            double lossRel = Math.abs(low.loss() - full.loss()) / Math.abs(full.loss());
            assertEquals(full.grads().keySet(), low.grads().keySet());
            assertEquals(16, low.grads().size(), "projector 2, LoRA 12, prompt and gate: every kind of master");
            double worst = 0;
            for (Map.Entry<String, float[]> e : full.grads().entrySet()) {
                float[] g = low.grads().get(e.getKey());
                worst = Math.max(worst, TrainStepParityTest.relErr(g, e.getValue()));
                double norm = 0;
                for (float v : g) {
                    norm += v * v;
                }
                assertTrue(norm > 0, e.getKey() + ": no gradient reached the fp32 master");
            }
            System.out.printf("%s vs fp32 step: loss rel %.2g (%.2f u), worst gradient rel %.2g (%.1f u)%n",
                    Precision.name(type), lossRel, lossRel / u, worst, worst / u);
            assertTrue(lossRel <= 2 * u, Precision.name(type) + " loss " + low.loss() + " vs fp32 " + full.loss());
            assertTrue(worst <= 16 * u, Precision.name(type) + " gradients relative error " + worst);
        }
    }

    @Test
    void bf16RunsLossCurveAndCheckpointedStepFollowFp32() {
        if (!Precision.bfloat16Available()) {
            assertFalse(Boolean.getBoolean("glimpse.expect.bf16"), "the bf16 stage's JNI did not load");
            return; // refused in one line: bf16StepsWhereTheJniHasBf16AndIsRefusedInOneLineWhereItHasNot
        }
        double u = Math.scalb(1.0, -8);
        int n = 25;
        double[] full = curve(DataType.FLOAT32, n);
        double[] bf = curve(DataType.BFLOAT16, n);
        double worst = gap(bf, full);
        System.out.printf("bf16 vs fp32 loss curve, %d AdamW steps: worst relative gap %.3g (%.2f u); %.4f -> %.4f%n",
                n, worst, worst / u, bf[0], bf[n - 1]);
        assertTrue(worst <= 4 * u, "bf16 loss left the band of fp32's: " + worst / u + " u");
        Path dir = TestData.fixture("adapter-step");
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             NDManager m = GlimpseEngine.newCpuManager()) {
            AdapterTrainer.LossAndGrads plain = step(DataType.BFLOAT16, ref, m, false);
            AdapterTrainer.LossAndGrads ckpt = step(DataType.BFLOAT16, ref, m, true);
            double g = 0;
            for (Map.Entry<String, float[]> e : plain.grads().entrySet()) {
                g = Math.max(g, TrainStepParityTest.relErr(ckpt.grads().get(e.getKey()), e.getValue()));
            }
            System.out.printf("bf16 activation checkpointing: loss %.6f vs %.6f, worst gradient rel %.2g (%.2f u)%n",
                    ckpt.loss(), plain.loss(), g, g / u);
            assertEquals(plain.loss(), ckpt.loss(), 2 * u * Math.abs(plain.loss()));
            assertTrue(g <= 16 * u, "bf16 checkpointed gradients: " + g / u + " u");
        }
    }

    @Test
    void activationCheckpointingGivesTheSameLossAndGradients() {
        // recomputing each layer in the backward runs the same kernels on the same inputs: fp32 agrees to rounding
        // (measured below 1e-6 relative); fp16 with its loss scale agrees within the fp16 bounds above
        Path dir = TestData.fixture("adapter-step");
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             NDManager m = GlimpseEngine.newCpuManager()) {
            for (DataType type : List.of(DataType.FLOAT32, DataType.FLOAT16)) {
                AdapterTrainer.LossAndGrads plain = step(type, ref, m, false);
                AdapterTrainer.LossAndGrads ckpt = step(type, ref, m, true);
                double tol = type == DataType.FLOAT32 ? 1e-5 : 2 * U16;
                assertEquals(plain.loss(), ckpt.loss(), tol * Math.abs(plain.loss()), Precision.name(type) + " loss");
                assertEquals(plain.grads().keySet(), ckpt.grads().keySet());
                double worst = 0;
                for (Map.Entry<String, float[]> e : plain.grads().entrySet()) {
                    worst = Math.max(worst, TrainStepParityTest.relErr(ckpt.grads().get(e.getKey()), e.getValue()));
                }
                System.out.printf("activation checkpointing, %s: worst gradient rel %.2g%n", Precision.name(type),
                        worst);
                assertTrue(worst <= (type == DataType.FLOAT32 ? 1e-5 : 16 * U16), Precision.name(type) + ": " + worst);
            }
        }
    }

    @Test
    void trainingAsksForTheTypeTheLlmIsLoadedIn() {
        try (CausalLM lm = CausalLM.load(TestData.fixture("tiny-llama"), GlimpseEngine.newCpuManager(),
                DataType.FLOAT32)) {
            Projector p = Projector.initialize(ProjectorType.LINEAR, 8, lm.config().hiddenSize(), false, 1);
            BadInputException e = assertThrows(BadInputException.class, () -> new AdapterTrainer(lm, p,
                    TrainingOptions.builder().dataType(DataType.FLOAT16).maxSteps(1).build()));
            assertEquals("training asks for fp16 but the LLM is loaded as fp32; load it with float16", e.getMessage());
        }
    }

    /** The toy colour task on stories260k in {@code type}: losses per step and the final masters. */
    private static AdapterTrainer.Result toyRun(DataType type, Path out, boolean resume, int steps,
                                                TrainingOptions.Builder options) {
        return toyRun(type, out, resume, steps, options, Integer.MAX_VALUE);
    }

    /** As above, interrupted (an exception, as a crash would) when step {@code crashAt} is reported. */
    private static AdapterTrainer.Result toyRun(DataType type, Path out, boolean resume, int steps,
                                                TrainingOptions.Builder options, int crashAt) {
        ToyTask task = new ToyTask(40, 11);
        try (CausalLM lm = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(), type)) {
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, ToyTask.DIM, lm.config().hiddenSize(), false,
                    3);
            AdapterTrainer t = new AdapterTrainer(lm, p, options.dataType(type).maxSteps(steps).build());
            return t.train(task.examples, task.features::get, ToyTask.TOKENS, out, resume, (d, n, s) -> {
                if (d == crashAt) {
                    throw new IllegalStateException("crash at step " + d);
                }
            }, null);
        }
    }

    private static TrainingOptions.Builder toyOptions() {
        return TrainingOptions.builder().batchSize(4).gradientAccumulation(2).learningRate(5e-3).weightDecay(0.01)
                .warmupRatio(0.1).clipNorm(1.0).checkpointEvery(3).seed(7);
    }

    /** {@code n} AdamW steps on the fixture's batch (projector, LoRA and prompt trained together): the losses. */
    private static double[] curve(DataType type, int n) {
        Path dir = TestData.fixture("adapter-step");
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             NDManager m = GlimpseEngine.newCpuManager();
             CausalLM lm = CausalLM.load(TestData.fixture("tiny-llama"), GlimpseEngine.newCpuManager(), type)) {
            Projector proj;
            try (Checkpoint c = Checkpoint.open(dir.resolve("projector.safetensors"))) {
                proj = Projector.fromCheckpoint(c, Projector.PREFIX);
            }
            AdapterTrainer t = new AdapterTrainer(lm, proj, LanguageAdapter.load(dir),
                    TrainingOptions.builder().dataType(type).maxSteps(n).build());
            TrainingBatch batch = fixtureBatch(ref, m);
            AdamW adam = new AdamW(0.9, 0.999, 1e-8, 0.0);
            double[] losses = new double[n];
            for (int i = 0; i < n; i++) {
                AdapterTrainer.LossAndGrads lg = t.lossAndGradients(batch);
                losses[i] = lg.loss();
                adam.update(t.parameters().values(), lg.grads(), 1e-2);
            }
            return losses;
        }
    }

    /** The largest relative gap between two loss curves, step by step. */
    private static double gap(double[] losses, double[] reference) {
        double worst = 0;
        for (int i = 0; i < reference.length; i++) {
            worst = Math.max(worst, Math.abs(losses[i] - reference[i]) / reference[i]);
        }
        return worst;
    }

    @Test
    void anFp16RunsLossCurveStaysWithinABandOfFp32s() {
        int n = 25;
        double[] full = curve(DataType.FLOAT32, n);
        double[] half = curve(DataType.FLOAT16, n);
        double worst = gap(half, full);
        System.out.printf("fp16 vs fp32 loss curve, %d AdamW steps: worst relative gap %.3g; fp32 loss %.4f -> %.4f,"
                + " fp16 %.4f -> %.4f%n", n, worst, full[0], full[n - 1], half[0], half[n - 1]);
        assertTrue(full[n - 1] < 0.5 * full[0], "the batch must be learnt for the band to mean anything");
        assertTrue(worst <= BAND, "fp16 loss left the band of fp32's: " + worst);
    }

    @Test
    void anOverflowingFp16StepIsSkippedAndTheScaleBacksOff(@TempDir Path dir) throws Exception {
        // 2^40 overflows fp16 (max 65504) in the backward of the very first step: skipped until the scale is small
        TrainingOptions.Builder o = toyOptions().lossScale(Math.scalb(1.0, 40), 1000);
        AdapterTrainer.Result r = toyRun(DataType.FLOAT16, dir, false, 40, o);
        List<JsonNode> rows = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(r.metrics())) {
            rows.add(json.readTree(line));
        }
        int skipped = 0;
        while (rows.get(skipped).path("skipped").asBoolean()) {
            assertEquals(Math.scalb(1.0, 40 - skipped), rows.get(skipped).get("loss_scale").asDouble());
            skipped++;
        }
        System.out.printf("fp16 from loss scale 2^40: %d steps skipped, first taken at scale 2^%d%n", skipped,
                40 - skipped);
        assertTrue(skipped >= 20 && skipped < 35, "steps skipped: " + skipped);
        for (JsonNode row : rows.subList(skipped, rows.size())) {
            assertFalse(row.path("skipped").asBoolean(), "a step after the scale settled was skipped: " + row);
        }
        // the skipped steps left the masters and the optimizer alone: AdamW counts only the steps taken
        try (SafetensorsFile ckpt = SafetensorsFile.open(dir.resolve(TrainingCheckpoint.FILE))) {
            assertEquals(Integer.toString(40 - skipped), ckpt.metadata().get("adam_step"));
            assertEquals(Double.toString(Math.scalb(1.0, 40 - skipped)), ckpt.metadata().get("loss_scale"));
        }
    }

    @Test
    void anFp16RunResumesExactlyIncludingItsLossScale(@TempDir Path dir) {
        // from 2^17 this run overflows twice, then takes steps and doubles the scale every 2 good ones (overflowing
        // again now and then): the scale changes all along, so resuming must restore it with the masters and moments
        TrainingOptions.Builder o = toyOptions().lossScale(Math.scalb(1.0, 17), 2);
        AdapterTrainer.Result straight = toyRun(DataType.FLOAT16, dir.resolve("straight"), false, 12, o);
        // checkpoints every 3 steps: the crash at step 8 loses steps 7 and 8, which the resumed run repeats
        assertThrows(IllegalStateException.class, () -> toyRun(DataType.FLOAT16, dir.resolve("resumed"), false, 12, o,
                8));
        AdapterTrainer.Result resumed = toyRun(DataType.FLOAT16, dir.resolve("resumed"), true, 12, o);
        assertEquals(straight.losses().size(), resumed.losses().size());
        for (int i = 0; i < straight.losses().size(); i++) {
            assertEquals(straight.losses().get(i)[1], resumed.losses().get(i)[1], 0.0, "loss at step " + (i + 1));
        }
        try (SafetensorsFile a = SafetensorsFile.open(straight.adapterWeights());
             SafetensorsFile b = SafetensorsFile.open(resumed.adapterWeights());
             SafetensorsFile ca = SafetensorsFile.open(dir.resolve("straight").resolve(TrainingCheckpoint.FILE));
             SafetensorsFile cb = SafetensorsFile.open(dir.resolve("resumed").resolve(TrainingCheckpoint.FILE))) {
            for (dev.glimpse.core.TensorInfo t : a.tensors()) {
                assertTrue(java.util.Arrays.equals(a.toFloats(t.name()), b.toFloats(t.name())), t.name());
            }
            assertEquals(ca.metadata().get("loss_scale"), cb.metadata().get("loss_scale"));
            int taken = Integer.parseInt(ca.metadata().get("adam_step"));
            assertTrue(taken >= 6 && taken < 12, "steps taken: " + taken + " of 12 (some skipped, most not)");
            assertEquals(ca.metadata().get("loss_scale_good_steps"), cb.metadata().get("loss_scale_good_steps"));
        }
    }
}
