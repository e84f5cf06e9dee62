package dev.glimpse.benchmarks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.Progress;
import dev.glimpse.core.SafetensorsWriter;
import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.EvalRunner;
import dev.glimpse.eval.Problem;
import dev.glimpse.eval.ScienceQaContract;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.AdaptionPromptConfig;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.LoraConfig;
import dev.glimpse.language.KvCache;
import dev.glimpse.training.AdamW;
import dev.glimpse.training.AdapterTrainer;
import dev.glimpse.training.TrainingBatch;
import dev.glimpse.training.TrainingOptions;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.OnnxVisionTower;
import dev.glimpse.vision.VisionTower;
import dev.glimpse.vision.VitVisionTower;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Glimpse's side of benchmarks/compare.sh: one workload per run, random weights built in-process, warm-up then
 * timed iterations, one JSON line of results on stdout.
 *
 * <pre>java ... Bench WORKLOAD ITERATIONS WORKDIR [SHARED]</pre>
 * Workloads: matmul, prefill (includes decode), vision-onnx, vision-djl, train-step, sqa-eval.
 */
public final class Bench {
    // Qwen2.5-0.5B
    static final int H = 896;
    static final int FF = 4864;
    static final int LAYERS = 24;
    static final int HEADS = 14;
    static final int KV = 2;
    static final int HD = 64;
    static final int VOCAB = 151936;

    private Bench() {}

    public static void main(String[] args) throws Exception {
        String workload = args[0];
        int iters = Integer.parseInt(args[1]);
        Path work = Path.of(args[2]);
        Files.createDirectories(work);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("workload", workload);
        out.put("side", "glimpse");
        out.put("threads", Integer.getInteger("glimpse.threads", Runtime.getRuntime().availableProcessors()));
        switch (workload) {
            case "matmul" -> matmul(iters, out);
            case "prefill" -> prefill(work, iters, out);
            case "vision-onnx" -> visionOnnx(work, iters, out);
            case "vision-djl" -> visionDjl(work, iters, out);
            case "train-step" -> trainStep(work, iters, out, null);
            case "train-step-lora" -> trainStep(work, iters, out, "lora");
            case "train-step-prompt" -> trainStep(work, iters, out, "prompt");
            case "sqa-eval" -> sqaEval(work, Path.of(args[3]), out);
            default -> throw new IllegalArgumentException("unknown workload " + workload);
        }
        System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(out));
    }

    static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static void matmul(int iters, Map<String, Object> out) {
        int n = 2048;
        try (NDManager m = GlimpseEngine.newCpuManager()) {
            NDArray a = m.randomUniform(-1, 1, new Shape(n, n));
            NDArray b = m.randomUniform(-1, 1, new Shape(n, n));
            a.matMul(b).close();
            List<Double> t = new ArrayList<>();
            for (int i = 0; i < iters; i++) {
                long t0 = System.nanoTime();
                NDArray c = a.matMul(b);
                c.getFloat(0, 0);
                t.add(seconds(t0));
                c.close();
            }
            out.put("seconds", t);
            double med = median(t);
            out.put("gflops", 2.0 * n * n * n / med / 1e9);
        }
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(Double::compare);
        return s.get(s.size() / 2);
    }

    /** A Qwen2.5-0.5B-shaped checkpoint of random weights (norms at 1). */
    static Path qwenCheckpoint(Path work) throws IOException {
        Path dir = work.resolve("qwen2.5-0.5b-random");
        if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
            return dir;
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), String.format(Locale.ROOT, "{\"model_type\":\"qwen2\","
                + "\"vocab_size\":%d,\"hidden_size\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,"
                + "\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"max_position_embeddings\":32768,"
                + "\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,\"tie_word_embeddings\":true}", VOCAB, H, FF, LAYERS,
                HEADS, KV));
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        SplittableRandom r = new SplittableRandom(1);
        w.add("model.embed_tokens.weight", DType.F32, new long[] {VOCAB, H}, random(r, (long) VOCAB * H, 0.02f));
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            w.add(p + "input_layernorm.weight", DType.F32, new long[] {H}, ones(H));
            w.add(p + "post_attention_layernorm.weight", DType.F32, new long[] {H}, ones(H));
            w.add(p + "self_attn.q_proj.weight", DType.F32, new long[] {HEADS * HD, H}, random(r, (long) HEADS * HD * H, 0.02f));
            w.add(p + "self_attn.q_proj.bias", DType.F32, new long[] {HEADS * HD}, random(r, HEADS * HD, 0.02f));
            w.add(p + "self_attn.k_proj.weight", DType.F32, new long[] {KV * HD, H}, random(r, (long) KV * HD * H, 0.02f));
            w.add(p + "self_attn.k_proj.bias", DType.F32, new long[] {KV * HD}, random(r, KV * HD, 0.02f));
            w.add(p + "self_attn.v_proj.weight", DType.F32, new long[] {KV * HD, H}, random(r, (long) KV * HD * H, 0.02f));
            w.add(p + "self_attn.v_proj.bias", DType.F32, new long[] {KV * HD}, random(r, KV * HD, 0.02f));
            w.add(p + "self_attn.o_proj.weight", DType.F32, new long[] {H, HEADS * HD}, random(r, (long) H * HEADS * HD, 0.02f));
            w.add(p + "mlp.gate_proj.weight", DType.F32, new long[] {FF, H}, random(r, (long) FF * H, 0.02f));
            w.add(p + "mlp.up_proj.weight", DType.F32, new long[] {FF, H}, random(r, (long) FF * H, 0.02f));
            w.add(p + "mlp.down_proj.weight", DType.F32, new long[] {H, FF}, random(r, (long) H * FF, 0.02f));
        }
        w.add("model.norm.weight", DType.F32, new long[] {H}, ones(H));
        w.write(dir.resolve("model.safetensors"));
        return dir;
    }

    static float[] random(SplittableRandom r, long n, float scale) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) ((r.nextDouble() * 2 - 1) * scale * 1.7320508);
        }
        return a;
    }

    static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    static void prefill(Path work, int iters, Map<String, Object> out) throws IOException {
        Path dir = qwenCheckpoint(work);
        int t = 700;
        int decode = 16;
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32)) {
            long[] ids = new long[t];
            SplittableRandom r = new SplittableRandom(2);
            for (int i = 0; i < t; i++) {
                ids[i] = r.nextInt(VOCAB);
            }
            List<Double> pre = new ArrayList<>();
            List<Double> dec = new ArrayList<>();
            for (int it = 0; it <= iters; it++) {
                try (NDManager m = lm.manager().newSubManager(); KvCache cache = lm.newCache(m)) {
                    long t0 = System.nanoTime();
                    NDArray logits = lm.forward(CausalLM.Input.ids(m.create(ids, new Shape(1, t))).cache(cache)
                            .lastTokenLogitsOnly()).logits();
                    long next = logits.argMax(-1).toLongArray()[0];
                    double p = seconds(t0);
                    long t1 = System.nanoTime();
                    for (int k = 0; k < decode; k++) {
                        try (NDManager s = m.newSubManager()) {
                            NDArray l = lm.forward(CausalLM.Input.ids(s.create(new long[] {next}, new Shape(1, 1)))
                                    .cache(cache).lastTokenLogitsOnly()).logits();
                            next = l.argMax(-1).toLongArray()[0];
                        }
                    }
                    double d = seconds(t1);
                    if (it > 0) { // the first run warms up
                        pre.add(p);
                        dec.add(d / decode);
                    }
                }
            }
            out.put("seconds", pre);
            out.put("decode_seconds_per_token", dec);
            out.put("prefill_tokens_per_s", t / median(pre));
            out.put("decode_tokens_per_s", 1 / median(dec));
            long flops = 2L * t * (lm.config().parameterCount() - (long) VOCAB * H) + 2L * H * VOCAB;
            out.put("prefill_gflop", flops / 1e9);
        }
    }

    static void visionOnnx(Path work, int iters, Map<String, Object> out) {
        try (OnnxVisionTower tower = OnnxVisionTower.builder(work.resolve("clip-b16-onnx")).dropCls(false)
                .intraOpThreads(Integer.getInteger("glimpse.threads", Runtime.getRuntime().availableProcessors()))
                .build()) {
            out.put("seconds", timeTower(tower, iters));
        }
    }

    static void visionDjl(Path work, int iters, Map<String, Object> out) throws IOException {
        Path dir = work.resolve("clip-b16-djl");
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"clip_vision_model\",\"hidden_size\":768,"
                    + "\"intermediate_size\":3072,\"num_hidden_layers\":12,\"num_attention_heads\":12,\"image_size\":224,"
                    + "\"patch_size\":16,\"hidden_act\":\"quick_gelu\",\"layer_norm_eps\":1e-5}");
            Files.copy(work.resolve("clip-b16-onnx/preprocessor_config.json"), dir.resolve("preprocessor_config.json"));
            SafetensorsWriter w = new SafetensorsWriter();
            SplittableRandom r = new SplittableRandom(3);
            int d = 768;
            w.add("vision_model.embeddings.patch_embedding.weight", DType.F32, new long[] {d, 3, 16, 16},
                    random(r, d * 3L * 256, 0.02f));
            w.add("vision_model.embeddings.class_embedding", DType.F32, new long[] {d}, random(r, d, 0.02f));
            w.add("vision_model.embeddings.position_embedding.weight", DType.F32, new long[] {197, d},
                    random(r, 197L * d, 0.02f));
            for (String n : new String[] {"pre_layrnorm", "post_layernorm"}) {
                w.add("vision_model." + n + ".weight", DType.F32, new long[] {d}, ones(d));
                w.add("vision_model." + n + ".bias", DType.F32, new long[] {d}, new float[d]);
            }
            for (int i = 0; i < 12; i++) {
                String p = "vision_model.encoder.layers." + i + ".";
                for (String n : new String[] {"layer_norm1", "layer_norm2"}) {
                    w.add(p + n + ".weight", DType.F32, new long[] {d}, ones(d));
                    w.add(p + n + ".bias", DType.F32, new long[] {d}, new float[d]);
                }
                for (String n : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
                    w.add(p + "self_attn." + n + ".weight", DType.F32, new long[] {d, d}, random(r, (long) d * d, 0.02f));
                    w.add(p + "self_attn." + n + ".bias", DType.F32, new long[] {d}, random(r, d, 0.02f));
                }
                w.add(p + "mlp.fc1.weight", DType.F32, new long[] {3072, d}, random(r, 3072L * d, 0.02f));
                w.add(p + "mlp.fc1.bias", DType.F32, new long[] {3072}, random(r, 3072, 0.02f));
                w.add(p + "mlp.fc2.weight", DType.F32, new long[] {d, 3072}, random(r, 3072L * d, 0.02f));
                w.add(p + "mlp.fc2.bias", DType.F32, new long[] {d}, random(r, d, 0.02f));
            }
            w.write(dir.resolve("model.safetensors"));
        }
        try (VitVisionTower tower = VitVisionTower.load(dir, -1, false)) {
            out.put("seconds", timeTower(tower, iters));
        }
    }

    static List<Double> timeTower(VisionTower tower, int iters) {
        float[] px = new float[8 * 3 * 224 * 224];
        SplittableRandom r = new SplittableRandom(4);
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) r.nextDouble();
        }
        tower.encodePixels(px, 8);
        List<Double> t = new ArrayList<>();
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            tower.encodePixels(px, 8);
            t.add(seconds(t0));
        }
        return t;
    }

    /**
     * One adapter step; {@code llmAdapter} adds LoRA r=8 on q_proj and v_proj ("lora") or LLaMA-Adapter's adaption
     * prompts, 10 tokens in each of the top 20 layers ("prompt"), trained jointly with the projector.
     */
    static void trainStep(Path work, int iters, Map<String, Object> out, String llmAdapter) throws IOException {
        Path dir = qwenCheckpoint(work);
        int b = 4;
        int img = 576;
        int text = 128;
        int answer = 32;
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32)) {
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, 1024, H, false, 1);
            LanguageAdapter la = llmAdapter == null ? null : LanguageAdapter.create(lm.config(),
                    llmAdapter.equals("lora") ? LoraConfig.of(8, 16, "q_proj,v_proj") : null,
                    llmAdapter.equals("prompt") ? new AdaptionPromptConfig(10, 20) : null, 1);
            AdapterTrainer trainer = new AdapterTrainer(lm, p, la, TrainingOptions.builder().maxSteps(1).build());
            AdamW adam = new AdamW(0.9, 0.999, 1e-8, 0.0);
            SplittableRandom r = new SplittableRandom(5);
            int[][] ids = new int[b][img + text];
            int[][] labels = new int[b][img + text];
            int[][] mask = new int[b][img + text];
            List<float[]> feats = new ArrayList<>();
            for (int row = 0; row < b; row++) {
                for (int j = 0; j < img + text; j++) {
                    ids[row][j] = j < img ? MultimodalPrompt.SLOT : r.nextInt(VOCAB);
                    labels[row][j] = j >= img + text - answer ? ids[row][j] : -100;
                    mask[row][j] = 1;
                }
                feats.add(random(r, (long) img * 1024, 1f));
            }
            TrainingBatch batch = new TrainingBatch(ids, labels, mask, feats);
            List<Double> t = new ArrayList<>();
            for (int it = 0; it <= iters; it++) {
                long t0 = System.nanoTime();
                AdapterTrainer.LossAndGrads lg = trainer.lossAndGradients(batch);
                adam.update(trainer.parameters().values(), lg.grads(), 1e-3);
                if (it > 0) {
                    t.add(seconds(t0));
                }
            }
            out.put("seconds", t);
            out.put("samples_per_s", b / median(t));
            out.put("trainable_parameters", trainer.parameters().values().values().stream().mapToLong(a -> a.length).sum());
        }
    }

    static void sqaEval(Path work, Path shared, Map<String, Object> out) {
        Path clip = shared.resolve("fixtures/hf/tiny-clip-vision");
        Path lmDir = Path.of(System.getProperty("glimpse.home", "."), "samples/demo-kit/stories260k");
        ScienceQaDataset all = ScienceQaDataset.fromLlavaQuestions(shared.resolve("data/scienceqa/questions/"
                + "llava_test_CQM-A.json"));
        List<Problem> chosen = all.problems().stream().filter(x -> !x.hasImage() || Files.isRegularFile(
                ScienceQaDataset.imagePath(x, shared.resolve("data/scienceqa/images/test")))).limit(200).toList();
        ScienceQaDataset d = all.only(new LinkedHashSet<>(chosen.stream().map(Problem::id).toList()));
        VisionTower tower = OnnxVisionTower.builder(clip).layer("-2").build();
        CausalLM lm = CausalLM.load(lmDir, GlimpseEngine.newCpuManager(), DataType.FLOAT32);
        try (VisionLanguageModel vlm = VisionLanguageModel.of(tower, lm, Projector.initialize(ProjectorType.MLP2X_GELU,
                48, 64, false, 1), PromptTemplate.LLAVA)) {
            ImageLoader loader = new ImageLoader();
            EvalRunner.Model m = ScienceQaContract.model(vlm, PromptTemplate.LLAVA, loader);
            long t0 = System.nanoTime();
            EvalReport r = EvalRunner.run(d, shared.resolve("data/scienceqa/images/test"), m,
                    EvalRunner.Scoring.LIKELIHOOD, AnswerPolicy.LLAVA, work.resolve("sqa-" + System.nanoTime()),
                    Progress.NONE);
            double s = seconds(t0);
            out.put("seconds", List.of(s));
            out.put("questions", r.total());
            out.put("questions_per_s", r.total() / s);
        }
    }
}
