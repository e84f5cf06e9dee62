package dev.glimpse.fusion;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.LlavaConfig;
import dev.glimpse.core.ModelConfig;
import dev.glimpse.core.ModelRepository;
import dev.glimpse.core.Progress;
import dev.glimpse.core.TensorInfo;
import dev.glimpse.eval.EvalRunner;
import dev.glimpse.eval.Problem;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.Decoder;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.InferenceEngine;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.OnnxCausalLM;
import dev.glimpse.language.OnnxDecoder;
import dev.glimpse.language.WeightFormat;
import dev.glimpse.language.Tokenizer;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.Features;
import dev.glimpse.vision.ImageProcessor;
import dev.glimpse.vision.OnnxVisionTower;
import dev.glimpse.vision.VisionTower;
import dev.glimpse.vision.VitVisionTower;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A frozen vision tower and a frozen LLM joined by a trained adapter: ask it about images, by option likelihood
 * (letter and probability per choice) or by generation. Built from parts, from a Glimpse bundle directory
 * ({@code bundle.json}), or from a LLaVA checkpoint (llava-hf or transformers-5 key layout).
 *
 * <p>The LLM runs on DJL (the engine training uses) or on ONNX Runtime with fp32, fp16, int8 or int4 weights
 * ({@link Builder#engine}, {@link Builder#weights}); every entry point answers the same on both, within the weight
 * format's error.
 *
 * <p>Thread-safe for concurrent callers: weights are read-only and each call works in its own NDManager.
 */
public final class VisionLanguageModel implements AutoCloseable {
    public static final String BUNDLE = "bundle.json";

    private final VisionTower tower;
    private final CausalLM llm;
    private final OnnxCausalLM onnx;
    private final Projector projector;
    private final NDManager manager;
    private final Map<String, NDArray> projectorWeights;
    private final PromptTemplate template;
    private final Tokenizer tokenizer;

    private VisionLanguageModel(VisionTower tower, CausalLM llm, Projector projector, PromptTemplate template) {
        this(tower, llm, null, projector, template);
    }

    private VisionLanguageModel(VisionTower tower, CausalLM llm, OnnxCausalLM onnx, Projector projector,
                                PromptTemplate template) {
        LanguageModelConfig lc = llm != null ? llm.config() : onnx.config();
        if (projector.inputDim() != tower.hiddenSize() || projector.outputDim() != lc.hiddenSize()) {
            throw new BadInputException("projector maps " + projector.inputDim() + "→" + projector.outputDim()
                    + " but the tower gives " + tower.hiddenSize() + " and the LLM takes " + lc.hiddenSize());
        }
        if (projector.positions() > 0 && projector.positions() != tower.numTokens()) {
            throw new BadInputException("the projector's position embedding covers " + projector.positions()
                    + " image tokens but the tower gives " + tower.numTokens());
        }
        this.tower = tower;
        this.llm = llm;
        this.onnx = onnx;
        this.projector = projector;
        this.template = template;
        this.tokenizer = (llm != null ? llm.tokenizer() : onnx.tokenizer()).orElse(null);
        this.manager = llm != null ? llm.manager().newSubManager() : GlimpseEngine.newCpuManager();
        this.projectorWeights = projector.toNDArrays(manager, false);
        if (dataType() != DataType.FLOAT32) {
            projectorWeights.replaceAll((k, v) -> v.toType(dataType(), false));
        }
    }

    /** Joins a tower and an LLM run by ONNX Runtime with a trained adapter. Takes ownership of the parts. */
    public static VisionLanguageModel of(VisionTower tower, OnnxCausalLM llm, Adapter adapter, String llmName,
                                         PromptTemplate template) {
        adapter.config().checkCompatible(tower.name(), tower.layer(), tower.numTokens(), tower.hiddenSize(), llmName,
                llm.config().hiddenSize());
        return new VisionLanguageModel(tower, null, llm, adapter.projector(), template);
    }

    /** The engine running the LLM. */
    public InferenceEngine engine() {
        return llm != null ? InferenceEngine.DJL : InferenceEngine.ONNX;
    }

    /** The LLM's configuration, whichever engine runs it. */
    public LanguageModelConfig languageConfig() {
        return llm != null ? llm.config() : onnx.config();
    }

    /** The LLM's tokenizer; a clear error when the checkpoint has none. */
    public Tokenizer tokenizer() {
        return requireTokenizer();
    }

    private DataType dataType() {
        return llm != null ? llm.dataType() : DataType.FLOAT32;
    }

    /** Joins parts; the adapter must have been trained for this tower and LLM. Takes ownership of the parts. */
    public static VisionLanguageModel of(VisionTower tower, CausalLM llm, Adapter adapter, String llmName,
                                         PromptTemplate template) {
        adapter.config().checkCompatible(tower.name(), tower.layer(), tower.numTokens(), tower.hiddenSize(), llmName,
                llm.config().hiddenSize());
        return new VisionLanguageModel(tower, llm, adapter.projector(), template);
    }

    /** Joins parts without compatibility metadata (e.g. a projector being trained). */
    public static VisionLanguageModel of(VisionTower tower, CausalLM llm, Projector projector,
                                         PromptTemplate template) {
        return new VisionLanguageModel(tower, llm, projector, template);
    }

    /**
     * Loads a Glimpse bundle directory, a LLaVA checkpoint directory, or a hub id of either, with the repository
     * settings of the environment (HF_HOME, HF_HUB_OFFLINE, HF_TOKEN) and the default device. Same as
     * {@code builder().model(name).build()}.
     */
    public static VisionLanguageModel load(String name) {
        return builder().model(name).build();
    }

    /** Loads a model with explicit settings (repository, device, dtype, threads), no system properties needed. */
    public static Builder builder() {
        return new Builder();
    }

    /** Where and how to load: one instance per {@link Builder#build()}. */
    private record Loader(ModelRepository repository, Device device, DataType dataType, InferenceEngine engine,
                          WeightFormat weights, Integer accuracyLevel, int threads, Path onnxCache) {
        OnnxCausalLM.Builder onnx(Path dir) {
            OnnxCausalLM.Builder b = OnnxCausalLM.builder(dir).weights(weights).threads(threads)
                    .gpu(device != null && device.isGpu());
            if (accuracyLevel != null) {
                b.accuracyLevel(accuracyLevel);
            }
            return onnxCache != null ? b.cacheDir(onnxCache) : b;
        }

        NDManager llmManager() {
            return device == null ? GlimpseEngine.newManager() : GlimpseEngine.newManager(device);
        }

        CausalLM llm(Path dir) {
            NDManager m = llmManager();
            return CausalLM.load(dir, m, dataType != null ? dataType : CausalLM.defaultType(m));
        }
    }

    /**
     * Settings for loading a {@link VisionLanguageModel}. Example:
     * <pre>{@code
     * try (VisionLanguageModel m = VisionLanguageModel.builder()
     *         .model("runs/demo/bundle")                 // bundle, LLaVA checkpoint, or hub id org/name[@rev]
     *         .repository(ModelRepository.builder().cacheDir(Path.of("models")).offline(true).build())
     *         .device(Device.cpu()).dataType(DataType.FLOAT32).threads(4)
     *         .build()) {
     *     Answer a = m.answer(Question.of(image, "What color is the ball?", List.of("red", "blue")));
     * }
     * }</pre>
     */
    public static final class Builder {
        private String model;
        private ModelRepository repository;
        private Device device;
        private DataType dataType;
        private int threads;
        private Progress progress = Progress.NONE;
        private InferenceEngine engine = InferenceEngine.DJL;
        private WeightFormat weights;
        private Integer accuracyLevel;
        private Path onnxCache;

        private Builder() {}

        /**
         * The LLM's engine (default DJL). ONNX builds the LLM as an ONNX graph once (cached) and runs it with ONNX
         * Runtime; adaption-prompt adapters need DJL.
         */
        public Builder engine(InferenceEngine engine) {
            this.engine = engine;
            return this;
        }

        /** The ONNX engine's weight format (default fp32; int4 for the smallest and fastest on CPUs). */
        public Builder weights(WeightFormat weights) {
            this.weights = weights;
            return this;
        }

        /**
         * The ONNX engine's activations for int8 / int4 weights: 1 = fp32, 4 = int8 (fastest). Default 1 for int8,
         * 4 for int4 (see {@link OnnxCausalLM.Builder#accuracyLevel(int)}).
         */
        public Builder accuracyLevel(int level) {
            this.accuracyLevel = level;
            return this;
        }

        /** Where the ONNX engine keeps built models (default ~/.cache/glimpse/onnx). */
        public Builder onnxCache(Path dir) {
            this.onnxCache = dir;
            return this;
        }

        /** A bundle directory, a LLaVA checkpoint directory, or a hub id {@code org/name[@revision]}. */
        public Builder model(String model) {
            this.model = model;
            return this;
        }

        /** Cache directory, offline mode and token for hub ids (default: from the environment, as huggingface_hub). */
        public Builder repository(ModelRepository repository) {
            this.repository = repository;
            return this;
        }

        /** The LLM's device (default: a GPU when libtorch sees one and glimpse.device is not cpu; else the CPU). */
        public Builder device(Device device) {
            this.device = device;
            return this;
        }

        /**
         * The LLM's weights and compute type: FLOAT32, FLOAT16, or BFLOAT16 with Glimpse's JNI (default: fp32 on the
         * CPU; on a GPU bf16, or fp16 where the JNI has no bf16).
         */
        public Builder dataType(DataType dataType) {
            if (dataType != DataType.FLOAT32 && dataType != DataType.FLOAT16 && dataType != DataType.BFLOAT16) {
                throw new BadInputException("dataType must be FLOAT32, FLOAT16 or BFLOAT16, got " + dataType);
            }
            this.dataType = dataType;
            return this;
        }

        /** libtorch's intra-op threads (JVM-wide; see {@link GlimpseEngine#threads(int)}). */
        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        /** Download progress when the environment's repository is used (ignored with {@link #repository}). */
        public Builder progress(Progress progress) {
            this.progress = progress == null ? Progress.NONE : progress;
            return this;
        }

        public VisionLanguageModel build() {
            if (model == null || model.isBlank()) {
                throw new BadInputException("VisionLanguageModel.builder(): model(...) is required");
            }
            if (weights != null && weights != WeightFormat.FP32 && engine == InferenceEngine.DJL) {
                throw new BadInputException("weights " + weights + " need the onnx engine (DJL runs fp32 or fp16:"
                        + " use dataType(FLOAT16))");
            }
            if (accuracyLevel != null && weights != WeightFormat.INT8 && weights != WeightFormat.INT4) {
                throw new BadInputException("accuracyLevel applies to int8 / int4 weights on the onnx engine, not "
                        + (weights != null ? weights : WeightFormat.FP32));
            }
            if (threads > 0) {
                GlimpseEngine.threads(threads);
            }
            Loader l = new Loader(repository != null ? repository : ModelRepository.builder().progress(progress)
                    .build(), device, dataType, engine, weights != null ? weights : WeightFormat.FP32, accuracyLevel,
                    threads, onnxCache);
            Path dir = l.repository().resolve(model);
            if (Files.isRegularFile(dir.resolve(BUNDLE))) {
                return loadBundle(dir, l);
            }
            if (Files.isRegularFile(dir.resolve("config.json")) && ModelConfig.read(dir) instanceof LlavaConfig) {
                return loadLlava(dir, l);
            }
            throw new BadInputException(dir + ": neither a Glimpse bundle (bundle.json) nor a LLaVA checkpoint"
                    + " (config.json with model_type llava)");
        }
    }

    /**
     * What a bundle references; paths are relative to the bundle directory unless absolute (or hub ids).
     * {@code llmAdapter} (LoRA and/or adaption prompts, PEFT directories) may be null; {@code template} is the
     * prompt contract the bundle was trained with.
     */
    public record BundleSpec(String vision, String visionLayer, boolean dropCls, String llm, String adapter,
                             PromptTemplate template, String llmAdapter) {
        public BundleSpec(String vision, String visionLayer, boolean dropCls, String llm, String adapter,
                          PromptTemplate template) {
            this(vision, visionLayer, dropCls, llm, adapter, template, null);
        }

        public void write(Path dir) {
            ObjectNode n = new ObjectMapper().createObjectNode();
            n.put("format", "glimpse-bundle/1");
            n.put("vision", vision);
            n.put("vision_layer", visionLayer);
            n.put("drop_cls", dropCls);
            n.put("llm", llm);
            n.put("adapter", adapter);
            if (llmAdapter != null) {
                n.put("llm_adapter", llmAdapter);
            }
            template.write(n);
            try {
                AtomicFile.writeString(dir.resolve(BUNDLE), new ObjectMapper().writerWithDefaultPrettyPrinter()
                        .writeValueAsString(n));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static VisionLanguageModel loadBundle(Path dir, Loader l) {
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(dir.resolve(BUNDLE).toFile());
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(BUNDLE) + ": not valid JSON: " + e.getMessage(), e);
        }
        for (String k : new String[] {"vision", "llm", "adapter"}) {
            if (!n.hasNonNull(k)) {
                throw new BadInputException(dir.resolve(BUNDLE) + ": field '" + k + "' is missing");
            }
        }
        PromptTemplate t = PromptTemplate.read(n, dir.resolve(BUNDLE).toString());
        LanguageAdapter llmAdapter = n.hasNonNull("llm_adapter")
                ? LanguageAdapter.load(resolve(dir, n.get("llm_adapter").asText(), l.repository())) : null;
        Path vision = resolve(dir, n.get("vision").asText(), l.repository());
        Path llmDir = resolve(dir, n.get("llm").asText(), l.repository());
        Adapter adapter = Adapter.load(resolve(dir, n.get("adapter").asText(), l.repository()));
        String layer = n.path("vision_layer").asText("-2");
        boolean dropCls = n.path("drop_cls").asBoolean(true);
        VisionTower tower = openTower(vision, layer, dropCls);
        if (l.engine() == InferenceEngine.ONNX) {
            OnnxCausalLM.Builder b = l.onnx(llmDir);
            if (llmAdapter != null) {
                b.mergeLora(llmAdapter, resolve(dir, n.get("llm_adapter").asText(), l.repository()));
            }
            try {
                return of(tower, b.build(), adapter, llmDir.getFileName().toString(), t);
            } catch (RuntimeException e) {
                tower.close();
                throw e;
            }
        }
        CausalLM lm = null;
        try {
            lm = l.llm(llmDir);
            if (llmAdapter != null) {
                lm.attach(llmAdapter, true); // LoRA merged once: inference costs what the plain LLM costs
            }
            return of(tower, lm, adapter, llmDir.getFileName().toString(), t);
        } catch (RuntimeException e) {
            tower.close();
            if (lm != null) {
                lm.close();
            }
            throw e;
        }
    }

    static Path resolve(Path base, String ref, ModelRepository repository) {
        Path p = Path.of(ref);
        if (p.isAbsolute()) {
            return p;
        }
        Path local = base.resolve(ref).normalize();
        if (Files.exists(local)) {
            return local;
        }
        return repository.resolve(ref);
    }

    /** An ONNX export (file or directory with vision_model.onnx) or a CLIP/SigLIP/LLaVA safetensors tower. */
    public static VisionTower openTower(Path p, String layer, boolean dropCls) {
        if (p.toString().endsWith(".onnx") || Files.isRegularFile(p.resolve("vision_model.onnx"))) {
            return OnnxVisionTower.builder(p).layer(layer).dropCls(dropCls).build();
        }
        try {
            return VitVisionTower.load(p, Integer.parseInt(layer), dropCls);
        } catch (NumberFormatException e) {
            throw new BadInputException("vision layer '" + layer + "': safetensors towers take a layer index such as"
                    + " -2 (output names are for ONNX towers)");
        }
    }

    /** A LLaVA checkpoint: tower, projector and LLM from one directory. */
    static VisionLanguageModel loadLlava(Path dir, Loader l) {
        LlavaConfig cfg = (LlavaConfig) ModelConfig.read(dir);
        NDManager towerManager = GlimpseEngine.newCpuManager();
        NDManager llmManager = l.llmManager();
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            VitVisionTower tower = new VitVisionTower(cfg.vision(), ckpt, towerManager, ImageProcessor.read(dir),
                    cfg.visionFeatureLayer(), cfg.visionFeatureSelectStrategy().equals("default"),
                    dir.toAbsolutePath().normalize().toString());
            String lmPrefix = prefixOf(ckpt, "embed_tokens.weight");
            String head = ckpt.contains("lm_head.weight") ? "lm_head.weight"
                    : lmPrefix.replaceFirst("model\\.$", "") + "lm_head.weight";
            Projector proj = Projector.fromCheckpoint(ckpt, prefixOf(ckpt, "multi_modal_projector.linear_1.weight")
                    + "multi_modal_projector.");
            PromptTemplate t = new PromptTemplate("USER: " + PromptTemplate.LLAVA.template() + " ASSISTANT:",
                    PromptTemplate.Scoring.LETTERS, " ");
            if (l.engine() == InferenceEngine.ONNX) {
                llmManager.close();
                OnnxCausalLM lm = l.onnx(dir).part(cfg.text(), dir, lmPrefix, head).build();
                return new VisionLanguageModel(tower, null, lm, proj, t);
            }
            Tokenizer tok = Files.isRegularFile(dir.resolve("tokenizer.json")) ? Tokenizer.load(dir) : null;
            CausalLM lm = CausalLM.fromCheckpoint(cfg.text(), ckpt, lmPrefix, head, llmManager,
                    l.dataType() != null ? l.dataType() : CausalLM.defaultType(llmManager), tok,
                    GenerationConfig.read(dir));
            return new VisionLanguageModel(tower, lm, proj, t);
        } catch (RuntimeException e) {
            towerManager.close();
            llmManager.close();
            throw e;
        }
    }

    private static String prefixOf(Checkpoint ckpt, String suffix) {
        for (TensorInfo t : ckpt.tensors()) {
            if (t.name().endsWith(suffix)) {
                return t.name().substring(0, t.name().length() - suffix.length());
            }
        }
        throw new BadInputException(ckpt.location() + ": no tensor '*" + suffix + "'");
    }

    public VisionTower tower() {
        return tower;
    }

    /** The DJL LLM (what training uses); an error when this model runs on the ONNX engine. */
    public CausalLM llm() {
        if (llm == null) {
            throw new IllegalStateException("this model's LLM runs on the ONNX engine; llm() is the DJL model, for "
                    + "training and adaption prompts: load with engine(InferenceEngine.DJL)");
        }
        return llm;
    }

    /** The ONNX Runtime LLM, when this model runs on the ONNX engine. */
    public java.util.Optional<OnnxCausalLM> onnxLlm() {
        return java.util.Optional.ofNullable(onnx);
    }

    public Projector projector() {
        return projector;
    }

    public PromptTemplate template() {
        return template;
    }

    /** Projected image embeddings [images × tokens, H] of tower features, in {@code m}. */
    public NDArray project(NDManager m, List<float[]> features) {
        int n = tower.numTokens();
        int d = tower.hiddenSize();
        float[] all = new float[features.size() * n * d];
        for (int i = 0; i < features.size(); i++) {
            System.arraycopy(features.get(i), 0, all, i * n * d, n * d);
        }
        NDArray x = m.create(all, new Shape((long) features.size() * n, d));
        if (dataType() != DataType.FLOAT32) {
            x = x.toType(dataType(), false);
        }
        return projector.forward(x, projectorWeights);
    }

    /** Tower features of each image ([tokens × dim] each). */
    public List<float[]> features(List<BufferedImage> images) {
        List<float[]> out = new ArrayList<>();
        if (!images.isEmpty()) {
            Features f = tower.encode(images);
            for (int i = 0; i < images.size(); i++) {
                out.add(f.image(i));
            }
        }
        return out;
    }

    /**
     * Logits [1, T, V] for token ids holding {@code imageTokenId} slots and the images' pixel values
     * [images, 3, H, W] (LLaVA's forward, used for parity checks).
     */
    public float[] logits(long[] inputIds, int imageTokenId, float[] pixelValues, int images) {
        try (NDManager m = manager.newSubManager()) {
            Features f = tower.encodePixels(pixelValues, images);
            List<float[]> feats = new ArrayList<>();
            for (int i = 0; i < images; i++) {
                feats.add(f.image(i));
            }
            MultimodalPrompt p = MultimodalPrompt.fromIds(inputIds, imageTokenId, tower.numTokens());
            if (onnx != null) {
                OnnxPrompt o = OnnxPrompt.of(p, project(m, feats), languageConfig().hiddenSize());
                return onnx.logits(o.ids(), o.embeds());
            }
            NDArray embeds = MultimodalPrompt.splice(llm, m, new int[][] {p.ids()}, project(m, feats));
            return llm.forward(CausalLM.Input.embeds(embeds)).logits().toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    /** Answers a question: by option likelihood when it has choices, else by greedy generation. */
    public Answer answer(Question q) {
        return answer(q, features(q.images()));
    }

    /** As {@link #answer(Question)} with tower features already computed (e.g. from a feature cache). */
    public Answer answer(Question q, List<float[]> features) {
        return answer(List.of(q), List.of(features)).get(0);
    }

    /**
     * Answers several questions: those with choices are scored in one batch (their prompts run together, then all
     * their options), the others are generated one by one. {@code features} holds each question's tower features.
     */
    public List<Answer> answer(List<Question> questions, List<List<float[]>> features) {
        Answer[] out = new Answer[questions.size()];
        List<Integer> scored = new ArrayList<>();
        for (int i = 0; i < questions.size(); i++) {
            Question q = questions.get(i);
            if (q.choices().isEmpty()) {
                String text = generate(template.render(q), features.get(i), GenerationOptions.greedy(64));
                out[i] = new Answer(text.strip(), null, -1, Map.of(), new double[0]);
            } else {
                scored.add(i);
            }
        }
        if (!scored.isEmpty() && onnx != null) {
            for (int i : scored) {
                Question q = questions.get(i);
                String prompt = template.render(q);
                out[i] = choose(q, scoreContinuations(prompt, features.get(i), continuations(q.choices())));
            }
        } else if (!scored.isEmpty()) {
            try (NDManager m = manager.newSubManager()) {
                List<NDArray> embeds = new ArrayList<>();
                List<NDArray> visuals = new ArrayList<>();
                List<List<int[]>> conts = new ArrayList<>();
                for (int i : scored) {
                    Question q = questions.get(i);
                    String prompt = template.render(q);
                    MultimodalPrompt p = MultimodalPrompt.encode(requireTokenizer(), prompt, tower.numTokens());
                    checkImages(p, features.get(i));
                    NDArray image = features.get(i).isEmpty() ? null : project(m, features.get(i));
                    embeds.add(MultimodalPrompt.splice(llm, m, new int[][] {p.ids()}, image));
                    visuals.add(visual(m, p, image));
                    conts.add(continuationIds(prompt, continuations(q.choices())));
                }
                List<double[]> ll = llm.scoreContinuations(embeds, visuals, conts);
                for (int k = 0; k < scored.size(); k++) {
                    out[scored.get(k)] = choose(questions.get(scored.get(k)), ll.get(k));
                }
            }
        }
        return List.of(out);
    }

    /** The most likely choice, with the choices' probabilities (softmax of their log-likelihoods). */
    private static Answer choose(Question q, double[] ll) {
        double max = Double.NEGATIVE_INFINITY;
        int best = 0;
        for (int i = 0; i < ll.length; i++) {
            if (ll[i] > max) {
                max = ll[i];
                best = i;
            }
        }
        double sum = 0;
        for (double v : ll) {
            sum += Math.exp(v - max);
        }
        Map<String, Double> probs = new LinkedHashMap<>();
        for (int i = 0; i < ll.length; i++) {
            probs.put(String.valueOf((char) ('A' + i)), Math.exp(ll[i] - max) / sum);
        }
        return new Answer(q.choices().get(best), String.valueOf((char) ('A' + best)), best, probs, ll);
    }

    /** The text scored for each choice. */
    public List<String> continuations(List<String> choices) {
        return template.continuations(choices);
    }

    /**
     * Log-likelihood of each continuation after the prompt (with its images spliced in); the prompt runs once and
     * its KV cache is shared.
     */
    public double[] scoreContinuations(String prompt, List<float[]> features, List<String> continuations) {
        MultimodalPrompt p = MultimodalPrompt.encode(requireTokenizer(), prompt, tower.numTokens());
        checkImages(p, features);
        List<int[]> conts = continuationIds(prompt, continuations);
        try (NDManager m = manager.newSubManager()) {
            NDArray image = features.isEmpty() ? null : project(m, features);
            if (onnx != null) {
                OnnxPrompt o = OnnxPrompt.of(p, image, languageConfig().hiddenSize());
                return onnx.scoreContinuations(o.ids(), o.embeds(), conts);
            }
            NDArray embeds = MultimodalPrompt.splice(llm, m, new int[][] {p.ids()}, image);
            return llm.scoreContinuations(embeds, visual(m, p, image), conts);
        }
    }

    /** The token ids scored for each continuation after {@code prompt}: the ids a bundle's training learnt. */
    public List<int[]> continuationIds(String prompt, List<String> continuations) {
        List<int[]> conts = new ArrayList<>();
        for (String c : continuations) {
            conts.add(MultimodalPrompt.answerIds(requireTokenizer(), prompt, c));
        }
        return conts;
    }

    /** The global image feature for adaption prompts (multimodal LLaMA-Adapter), or null when none is used. */
    private NDArray visual(NDManager m, MultimodalPrompt p, NDArray image) {
        boolean prompts = llm != null && llm.adapter().flatMap(LanguageAdapter::adaptionPrompt).isPresent();
        return prompts ? MultimodalPrompt.globalImageFeature(m, new int[][] {p.ids()}, image) : null;
    }

    /**
     * This model as a ScienceQA contestant for {@link EvalRunner}: prompts and choices rendered by {@code template}
     * (normally {@link #template()}, the contract the bundle was trained with), images read by {@code loader}.
     */
    public EvalRunner.Model forScienceQa(PromptTemplate template, ImageLoader loader) {
        return new EvalRunner.Model() {
            @Override
            public String prompt(Problem p) {
                return template.render(p);
            }

            @Override
            public String generate(Problem p, Path image) {
                return VisionLanguageModel.this.generate(template.render(p), feats(image), GenerationOptions.greedy(64));
            }

            @Override
            public double[] score(Problem p, Path image) {
                return scoreContinuations(template.render(p), feats(image), template.continuations(p.choices()));
            }

            private List<float[]> feats(Path image) {
                return image == null ? List.of() : features(List.of(loader.load(image)));
            }
        };
    }

    /** Generates a continuation of a prompt with images spliced in (greedy or sampled). */
    public String generate(String prompt, List<float[]> features, GenerationOptions options) {
        int[] out;
        if (onnx != null) {
            return tokenizer.decode(stream(prompt, features, options, (tok, logits, off) -> true).tokens());
        }
        try (NDManager m = manager.newSubManager()) {
            Decoder.Sequence s = sequence(m, prompt, features, options);
            out = llm.generate(s.promptEmbeds(), s.visual(), options, null);
        }
        return tokenizer.decode(out);
    }

    /**
     * A completion: its text (ending before any stop string), the prompt's positions, the tokens made, and whether it
     * ran out of {@code maxNewTokens} rather than stopping.
     */
    public record Completion(String text, int promptTokens, int completionTokens, boolean truncated) {}

    /**
     * Completes a prompt with images spliced in, passing each final piece of text to {@code onText} as it is made
     * (streaming); stops at the model's stop tokens, the options' and any of {@code stops} (strings).
     */
    public Completion complete(String prompt, List<float[]> features, GenerationOptions options, List<String> stops,
                               java.util.function.Consumer<String> onText) {
        TextStream text = new TextStream(requireTokenizer(), stops, onText);
        if (onnx != null) {
            OnnxCausalLM.Generation g = stream(prompt, features, options, (tok, logits, off) -> text.accept(tok));
            return new Completion(text.finish(), promptTokens(prompt), g.tokens().length,
                    g.finish() == Decoder.Finish.LENGTH);
        }
        try (NDManager m = manager.newSubManager(); Decoder d = llm.decoder()) {
            Decoder.Sequence s = sequence(m, prompt, features, options);
            int id = d.add(List.of(s.sink((tok, logits, offset) -> text.accept(tok))))[0];
            while (d.active() > 0) {
                d.step();
            }
            String t = text.finish();
            return new Completion(t, (int) s.promptEmbeds().getShape().get(1), d.result(id).length,
                    d.finish(id) == Decoder.Finish.LENGTH);
        }
    }

    /**
     * Generates one completion on whichever engine runs the LLM, giving {@code sink} each token with its logits as
     * it is made (the sink ends it by returning false).
     */
    public OnnxCausalLM.Generation stream(String prompt, List<float[]> features, GenerationOptions options,
                                          Decoder.TokenSink sink) {
        MultimodalPrompt p = MultimodalPrompt.encode(requireTokenizer(), prompt, tower.numTokens());
        checkImages(p, features);
        if (onnx != null) {
            try (NDManager m = manager.newSubManager()) {
                NDArray image = features.isEmpty() ? null : project(m, features);
                OnnxPrompt o = OnnxPrompt.of(p, image, languageConfig().hiddenSize());
                return onnx.generate(o.ids(), o.embeds(), options, sink);
            }
        }
        try (NDManager m = manager.newSubManager(); Decoder d = llm.decoder()) {
            int id = d.add(List.of(sequence(m, prompt, features, options).sink(sink)))[0];
            while (d.active() > 0) {
                d.step();
            }
            return new OnnxCausalLM.Generation(d.result(id), d.finish(id));
        }
    }

    /**
     * A prompt with its images' features spliced in, ready to join a {@link Decoder} (continuous batching; DJL
     * engine only); its
     * arrays live in {@code m}, which must stay open until the decoder has taken it.
     */
    public Decoder.Sequence sequence(NDManager m, String prompt, List<float[]> features, GenerationOptions options) {
        MultimodalPrompt p = MultimodalPrompt.encode(requireTokenizer(), prompt, tower.numTokens());
        checkImages(p, features);
        NDArray image = features.isEmpty() ? null : project(m, features);
        NDArray embeds = MultimodalPrompt.splice(llm(), m, new int[][] {p.ids()}, image);
        return Decoder.Sequence.embeds(embeds, visual(m, p, image), options);
    }

    /**
     * A prompt with its images' features spliced in, ready to join an {@link OnnxDecoder} (continuous batching on the
     * ONNX engine).
     */
    public OnnxDecoder.Sequence onnxSequence(String prompt, List<float[]> features, GenerationOptions options) {
        MultimodalPrompt p = MultimodalPrompt.encode(requireTokenizer(), prompt, tower.numTokens());
        checkImages(p, features);
        if (onnx == null) {
            throw new IllegalStateException("this model's LLM runs on DJL: use sequence(...) and llm().decoder()");
        }
        try (NDManager m = manager.newSubManager()) {
            OnnxPrompt o = OnnxPrompt.of(p, features.isEmpty() ? null : project(m, features),
                    languageConfig().hiddenSize());
            return new OnnxDecoder.Sequence(o.ids(), o.embeds(), options, null);
        }
    }

    /** Positions a prompt takes in the LLM: its text tokens and the tower's tokens for each {@code <image>}. */
    public int promptTokens(String prompt) {
        return MultimodalPrompt.encode(requireTokenizer(), prompt, tower.numTokens()).ids().length;
    }

    private void checkImages(MultimodalPrompt p, List<float[]> features) {
        if (p.images() != features.size()) {
            throw new BadInputException("the prompt has " + p.images() + " <image> placeholder(s) but "
                    + features.size() + " image(s) were given");
        }
    }

    private Tokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new BadInputException("this checkpoint has no tokenizer.json; only token-id entry points work");
        }
        return tokenizer;
    }

    @Override
    public void close() {
        manager.close();
        tower.close();
        if (llm != null) {
            llm.close();
        }
        if (onnx != null) {
            onnx.close();
        }
    }
}
