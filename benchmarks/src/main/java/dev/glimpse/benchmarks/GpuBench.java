package dev.glimpse.benchmarks;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.Precision;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TorchExtension;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.training.AdamW;
import dev.glimpse.training.AdapterTrainer;
import dev.glimpse.training.TrainingBatch;
import dev.glimpse.training.TrainingOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The Java half of the GPU benchmark (benchmarks/gpu/run.sh runs it beside PyTorch and transformers in one run).
 * Each mode prints one JSON line starting with {@code RESULT}.
 * <pre>
 *   check DEVICE REPO_ROOT                 mixed-precision step vs fp32 on the adapter-step fixture (every dtype the
 *                                          JNI has), and fp32 greedy ids of stories260k
 *   train DEVICE MODEL_DIR DTYPE BATCH STEPS [IMG TEXT ANSWER]
 *                                          adapter steps (mlp2x_gelu 1024 → H, frozen LLM), LLaVA-sized prompts
 *   gen   DEVICE MODEL_DIR DTYPE PROMPT NEW prefill time and greedy decode tokens/s with the KV cache
 * </pre>
 * DTYPE is fp32, fp16 or bf16; DEVICE gpu or cpu; {@code -Dbench.checkpointing=true} trains with activation
 * checkpointing.
 */
public final class GpuBench {
    private GpuBench() {}

    public static void main(String[] a) {
        switch (a[0]) {
            case "check" -> check(device(a[1]), Path.of(a[2]));
            case "train" -> train(device(a[1]), Path.of(a[2]), Precision.parse(a[3], "dtype"), Integer.parseInt(a[4]),
                    Integer.parseInt(a[5]), a.length > 6 ? Integer.parseInt(a[6]) : 576,
                    a.length > 7 ? Integer.parseInt(a[7]) : 128, a.length > 8 ? Integer.parseInt(a[8]) : 32);
            case "gen" -> gen(device(a[1]), Path.of(a[2]), Precision.parse(a[3], "dtype"), Integer.parseInt(a[4]),
                    Integer.parseInt(a[5]));
            default -> throw new IllegalArgumentException("mode " + a[0] + ": check, train or gen");
        }
    }

    static Device device(String name) {
        return name.startsWith("gpu") ? Device.gpu() : Device.cpu();
    }

    static double sec(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static String common(Device d, DataType t) {
        return String.format(Locale.ROOT, "\"device\":\"%s\",\"dtype\":\"%s\",\"torch_extension\":%b,"
                + "\"fused_attention\":%b,\"tf32\":%b", d, Precision.name(t), TorchExtension.available(),
                TorchExtension.fusedAttention(), GlimpseEngine.tf32());
    }

    /** One joint step (projector, LoRA, adaption prompt) in each precision against fp32 on the same device. */
    static void check(Device d, Path root) {
        Path fix = root.resolve("testdata/hf/adapter-step");
        List<DataType> types = new ArrayList<>(List.of(DataType.FLOAT32, DataType.FLOAT16));
        if (Precision.bfloat16Available()) {
            types.add(DataType.BFLOAT16);
        }
        StringBuilder rows = new StringBuilder();
        AdapterTrainer.LossAndGrads ref = null;
        double torchLoss;
        double torchGrad = 0;
        for (DataType t : types) {
            AdapterTrainer.LossAndGrads lg = fixtureStep(d, t, root, fix);
            if (ref == null) {
                ref = lg;
                // the fp32 step against PyTorch's own (the fixture's reference), which checks the attention kernel
                // too: fused on this JNI unless glimpse.attention=explicit
                try (SafetensorsFile r = SafetensorsFile.open(fix.resolve("reference.safetensors"))) {
                    torchLoss = Math.abs(lg.loss() - r.toFloats("step0.loss")[0]) / Math.abs(r.toFloats("step0.loss")[0]);
                    for (Map.Entry<String, float[]> e : lg.grads().entrySet()) {
                        torchGrad = Math.max(torchGrad, relErr(e.getValue(), r.toFloats("step0.grad." + e.getKey())));
                    }
                }
                rows.append(String.format(Locale.ROOT, "{\"dtype\":\"fp32 vs PyTorch\",\"loss_rel\":%.3g,"
                        + "\"grad_rel\":%.3g,\"within_bounds\":%b},", torchLoss, torchGrad,
                        torchLoss <= 1e-5 && torchGrad <= 2e-5));
            }
            double lossRel = Math.abs(lg.loss() - ref.loss()) / Math.abs(ref.loss());
            double worst = 0;
            for (Map.Entry<String, float[]> e : ref.grads().entrySet()) {
                worst = Math.max(worst, relErr(lg.grads().get(e.getKey()), e.getValue()));
            }
            double u = t == DataType.BFLOAT16 ? Math.scalb(1.0, -8) : t == DataType.FLOAT16 ? Math.scalb(1.0, -11)
                    : Math.scalb(1.0, -24);
            rows.append(rows.charAt(rows.length() - 1) == ',' ? "" : ",").append(String.format(Locale.ROOT,
                    "{\"dtype\":\"%s\",\"loss\":%.6f,\"loss_rel\":%.3g,\"grad_rel\":%.3g,\"loss_u\":%.2f,\"grad_u\":%.2f,"
                    + "\"within_bounds\":%b}", Precision.name(t), lg.loss(), lossRel, worst, lossRel / u, worst / u,
                    t == DataType.FLOAT32 || lossRel <= 2 * u && worst <= 16 * u));
        }
        int[] ids;
        try (CausalLM lm = CausalLM.load(root.resolve("samples/demo-kit/stories260k"), GlimpseEngine.newManager(d),
                DataType.FLOAT32)) {
            ids = lm.generate(new int[] {1}, GenerationOptions.builder().maxNewTokens(200).build(), null);
        }
        System.out.println("RESULT {\"mode\":\"check\"," + common(d, DataType.FLOAT32) + ",\"steps\":[" + rows
                + "],\"stories260k_greedy_ids\":" + Arrays.toString(ids).replace(" ", "") + "}");
    }

    static AdapterTrainer.LossAndGrads fixtureStep(Device d, DataType t, Path root, Path fix) {
        try (SafetensorsFile ref = SafetensorsFile.open(fix.resolve("reference.safetensors"));
             NDManager m = GlimpseEngine.newCpuManager();
             CausalLM lm = CausalLM.load(root.resolve("testdata/hf/tiny-llama"), GlimpseEngine.newManager(d), t)) {
            Projector proj;
            try (Checkpoint c = Checkpoint.open(fix.resolve("projector.safetensors"))) {
                proj = Projector.fromCheckpoint(c, Projector.PREFIX);
            }
            int[][] ids = ints(ref.toNDArray(m, "batch.ids", DataType.FLOAT32).toLongArray(), 2);
            int[][] labels = ints(ref.toNDArray(m, "batch.labels", DataType.FLOAT32).toLongArray(), 2);
            int[][] mask = ints(ref.toNDArray(m, "batch.mask", DataType.FLOAT32).toLongArray(), 2);
            TrainingBatch batch = new TrainingBatch(ids, labels, mask, List.of(ref.toFloats("batch.features")));
            return new AdapterTrainer(lm, proj, LanguageAdapter.load(fix), TrainingOptions.builder().dataType(t)
                    .maxSteps(1).build()).lossAndGradients(batch);
        }
    }

    static int[][] ints(long[] flat, int rows) {
        int cols = flat.length / rows;
        int[][] out = new int[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r][c] = (int) flat[r * cols + c];
            }
        }
        return out;
    }

    static double relErr(float[] got, float[] want) {
        double err = 0;
        double scale = 0;
        for (int i = 0; i < want.length; i++) {
            err = Math.max(err, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return err / scale;
    }

    /** Adapter steps at LLaVA's sizes: img image tokens + text tokens per sample, the last answer ones trained. */
    static void train(Device d, Path dir, DataType t, int b, int steps, int img, int text, int answer) {
        long tl = System.nanoTime();
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newManager(d), t)) {
            double load = sec(tl);
            int h = lm.config().hiddenSize();
            int vocab = lm.config().vocabSize();
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, 1024, h, false, 1);
            AdapterTrainer trainer = new AdapterTrainer(lm, p, null, TrainingOptions.builder().dataType(t)
                    .activationCheckpointing(Boolean.getBoolean("bench.checkpointing")).maxSteps(1).build());
            AdamW adam = new AdamW(0.9, 0.999, 1e-8, 0.0);
            SplittableRandom r = new SplittableRandom(5);
            int n = img + text;
            int[][] ids = new int[b][n];
            int[][] labels = new int[b][n];
            int[][] mask = new int[b][n];
            List<float[]> feats = new ArrayList<>();
            for (int row = 0; row < b; row++) {
                for (int j = 0; j < n; j++) {
                    ids[row][j] = j < img ? MultimodalPrompt.SLOT : r.nextInt(vocab);
                    labels[row][j] = j >= n - answer ? ids[row][j] : -100;
                    mask[row][j] = 1;
                }
                float[] f = new float[img * 1024];
                for (int i = 0; i < f.length; i++) {
                    f[i] = (float) (r.nextDouble() * 2 - 1);
                }
                feats.add(f);
            }
            TrainingBatch batch = new TrainingBatch(ids, labels, mask, feats);
            List<Double> times = new ArrayList<>();
            List<Double> optimizer = new ArrayList<>();
            double first = 0;
            double loss = Double.NaN;
            for (int it = 0; it <= steps; it++) {
                long t0 = System.nanoTime();
                AdapterTrainer.LossAndGrads lg = trainer.lossAndGradients(batch); // gradients back in Java: synced
                long t1 = System.nanoTime();
                adam.update(trainer.parameters().values(), lg.grads(), 1e-3);
                loss = lg.loss();
                double dt = sec(t0);
                if (it == 0) {
                    first = dt;
                } else {
                    times.add(dt);
                    optimizer.add(sec(t1));
                }
                System.err.printf(Locale.ROOT, "step %d: %.3f s, loss %.4f%n", it, dt, loss);
            }
            // where a step's time goes: the forward alone (no autograd; its loss read back, so synced)
            List<Double> forward = new ArrayList<>();
            for (int it = 0; it < 3; it++) {
                long t0 = System.nanoTime();
                trainer.loss(batch);
                forward.add(sec(t0));
            }
            double med = median(times);
            System.out.println(String.format(Locale.ROOT, "RESULT {\"mode\":\"train\",%s,\"model\":\"%s\",\"batch\":%d,"
                    + "\"tokens_per_sample\":%d,\"steps\":%d,\"load_s\":%.2f,\"first_step_s\":%.3f,\"median_step_s\":%.4f,"
                    + "\"samples_per_s\":%.2f,\"final_loss\":%.4f,\"loss_scale\":%.0f,\"activation_checkpointing\":%b,"
                    + "\"phases\":{\"forward_nograd_s\":%.4f,\"optimizer_s\":%.4f},\"step_seconds\":%s}", common(d, t),
                    dir.getFileName(), b, n, times.size(), load, first, med, b / med, loss,
                    trainer.lossScaler().scale(), Boolean.getBoolean("bench.checkpointing"), median(forward),
                    median(optimizer), times));
        }
    }

    static double median(List<Double> xs) {
        List<Double> sorted = new ArrayList<>(xs);
        sorted.sort(Double::compare);
        return sorted.get(sorted.size() / 2);
    }

    /** Prefill of a random prompt, then greedy decoding of exactly {@code fresh} tokens (no stop token). */
    static void gen(Device d, Path dir, DataType t, int prompt, int fresh) {
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newManager(d), t)) {
            SplittableRandom r = new SplittableRandom(9);
            int[] ids = new int[prompt];
            for (int i = 0; i < prompt; i++) {
                ids[i] = 3 + r.nextInt(lm.config().vocabSize() - 3);
            }
            GenerationOptions warm = GenerationOptions.builder().maxNewTokens(4).useModelStopTokens(false).build();
            lm.generate(ids, warm, null); // CUDA kernels and allocator warmed
            long[] stamps = new long[fresh + 1];
            int[] count = {0};
            GenerationOptions o = GenerationOptions.builder().maxNewTokens(fresh).useModelStopTokens(false).build();
            stamps[0] = System.nanoTime();
            int[] out = lm.generate(ids, o, (tok, logits, off) -> {
                stamps[++count[0]] = System.nanoTime();
                return true;
            });
            double prefill = (stamps[1] - stamps[0]) / 1e9;
            double decode = (stamps[count[0]] - stamps[1]) / 1e9;
            System.out.println(String.format(Locale.ROOT, "RESULT {\"mode\":\"gen\",%s,\"model\":\"%s\",\"prompt\":%d,"
                    + "\"new_tokens\":%d,\"prefill_s\":%.4f,\"prefill_tok_s\":%.1f,\"decode_tok_s\":%.2f}", common(d, t),
                    dir.getFileName(), prompt, out.length, prefill, prompt / prefill, (count[0] - 1) / decode));
        }
    }
}
