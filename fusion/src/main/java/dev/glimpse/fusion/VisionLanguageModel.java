package dev.glimpse.fusion;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.ModelRepository;
import dev.glimpse.core.Progress;
import dev.glimpse.language.Decoder;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.InferenceEngine;
import dev.glimpse.language.LanguageModel;
import dev.glimpse.language.Logits;
import dev.glimpse.language.Prompt;
import dev.glimpse.language.RuntimeOptions;
import dev.glimpse.language.Tokenizer;
import dev.glimpse.language.WeightFormat;
import dev.glimpse.vision.Features;
import dev.glimpse.vision.VisionTower;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A frozen vision tower and a frozen LLM joined by a trained adapter: ask it about images, by option likelihood
 * (letter and probability per choice) or by generation. Built from parts, from a Glimpse {@link Bundle} directory,
 * or from a LLaVA checkpoint (llava-hf or transformers-5 key layout).
 *
 * <p>The LLM is a {@link LanguageModel} on DJL or on ONNX Runtime with fp32, fp16, int8 or int4 weights
 * ({@link Builder#engine}, {@link Builder#weights}); every entry point answers the same on both, within the weight
 * format's error. A text prompt holds one {@code <image>} per image; each becomes the tower's tokens, projected.
 *
 * <p>Thread-safe for concurrent callers: weights are read-only and each call works in its own NDManager.
 */
public final class VisionLanguageModel implements AutoCloseable {
    /** The file that makes a directory a bundle. */
    public static final String BUNDLE = Bundle.FILE;

    private final VisionTower tower;
    private final LanguageModel llm;
    private final Projector projector;
    private final NDManager manager;
    private final Map<String, NDArray> projectorWeights;
    private final PromptTemplate template;
    private final Tokenizer tokenizer;

    private VisionLanguageModel(VisionTower tower, LanguageModel llm, Projector projector, PromptTemplate template) {
        LanguageModelConfig lc = llm.config();
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
        this.projector = projector;
        this.template = template;
        this.tokenizer = llm.tokenizer().orElse(null);
        // the projector runs where the LLM computes, in its type: the image rows enter as training made them
        this.manager = GlimpseEngine.newManager(llm.device());
        this.projectorWeights = projector.toNDArrays(manager, llm.dataType(), false);
    }

    /** Joins parts; the adapter must have been trained for this tower and LLM. Takes ownership of the parts. */
    public static VisionLanguageModel of(VisionTower tower, LanguageModel llm, Adapter adapter, String llmName,
                                         PromptTemplate template) {
        adapter.config().checkCompatible(tower.name(), tower.layer(), tower.numTokens(), tower.hiddenSize(), llmName,
                llm.config().hiddenSize());
        return new VisionLanguageModel(tower, llm, adapter.projector(), template);
    }

    /** Joins parts without compatibility metadata (e.g. a projector being trained). */
    public static VisionLanguageModel of(VisionTower tower, LanguageModel llm, Projector projector,
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

    /** Loads a model with explicit settings (repository, engine, device, dtype, threads), no system properties. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Settings for loading a {@link VisionLanguageModel}, gathered into one {@link RuntimeOptions} (validated when
     * built). Example:
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
        private Progress progress = Progress.NONE;
        private RuntimeOptions runtime = RuntimeOptions.defaults();
        private WeightFormat weights;
        private Integer accuracyLevel;

        private Builder() {}

        /** The whole runtime at once (engine, device, type, weights, threads, ONNX cache). */
        public Builder runtime(RuntimeOptions r) {
            this.runtime = r;
            this.weights = r.weights();
            this.accuracyLevel = r.accuracyLevel();
            return this;
        }

        /** The LLM's engine (default DJL); adaption-prompt adapters need DJL. */
        public Builder engine(InferenceEngine engine) {
            runtime = new RuntimeOptions(engine, runtime.device(), runtime.dataType(), null, null, runtime.threads(),
                    runtime.onnxCache());
            return this;
        }

        /** The ONNX engine's weight format (default fp32; int4 for the smallest and fastest on CPUs). */
        public Builder weights(WeightFormat weights) {
            this.weights = weights;
            return this;
        }

        /** The ONNX engine's activations for int8 / int4 weights: 1 = fp32, 4 = int8 (fastest). */
        public Builder accuracyLevel(int level) {
            this.accuracyLevel = level;
            return this;
        }

        /** Where the ONNX engine keeps built models (default ~/.cache/glimpse/onnx). */
        public Builder onnxCache(Path dir) {
            runtime = runtime.withOnnxCache(dir);
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
            runtime = runtime.withDevice(device);
            return this;
        }

        /** The DJL engine's weights and compute type: FLOAT32, FLOAT16, or BFLOAT16 with Glimpse's JNI. */
        public Builder dataType(DataType dataType) {
            if (dataType != DataType.FLOAT32 && dataType != DataType.FLOAT16 && dataType != DataType.BFLOAT16) {
                throw new BadInputException("dataType must be FLOAT32, FLOAT16 or BFLOAT16, got " + dataType);
            }
            runtime = runtime.withDataType(dataType);
            return this;
        }

        /** Engine threads: ONNX Runtime's per session; libtorch's are one pool per process (the last set holds). */
        public Builder threads(int threads) {
            runtime = runtime.withThreads(threads);
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
            RuntimeOptions r = runtime.withWeights(weights, accuracyLevel);
            return new ModelLoader(repository != null ? repository : ModelRepository.builder().progress(progress)
                    .build(), r).load(model);
        }
    }

    /** The engine running the LLM. */
    public InferenceEngine engine() {
        return llm.engine();
    }

    /** The LLM's configuration. */
    public LanguageModelConfig languageConfig() {
        return llm.config();
    }

    /** The LLM's tokenizer; a clear error when the checkpoint has none. */
    public Tokenizer tokenizer() {
        if (tokenizer == null) {
            throw new BadInputException("this checkpoint has no tokenizer.json; only token-id entry points work");
        }
        return tokenizer;
    }

    public VisionTower tower() {
        return tower;
    }

    /** The frozen LLM, on whichever engine runs it. */
    public LanguageModel llm() {
        return llm;
    }

    public Projector projector() {
        return projector;
    }

    /** The prompt contract the model was trained with. */
    public PromptTemplate template() {
        return template;
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

    /** Projected image rows [images × tokens, H] of tower features (fp32 values of the LLM's type), or null. */
    private float[] project(List<float[]> features) {
        if (features.isEmpty()) {
            return null;
        }
        int n = tower.numTokens();
        int d = tower.hiddenSize();
        float[] all = new float[features.size() * n * d];
        for (int i = 0; i < features.size(); i++) {
            System.arraycopy(features.get(i), 0, all, i * n * d, n * d);
        }
        try (NDManager m = manager.newSubManager()) {
            NDArray x = m.create(all, new Shape((long) features.size() * n, d));
            if (llm.dataType() != DataType.FLOAT32) {
                x = x.toType(llm.dataType(), false);
            }
            return projector.forward(x, projectorWeights).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    /**
     * The LLM prompt of a text holding one {@code <image>} per image and the images' tower features: its tokens,
     * with each placeholder's slots filled by the projected image tokens.
     */
    public Prompt prompt(String text, List<float[]> features) {
        return prompt(encode(text), features);
    }

    /**
     * A text prompt's tokens, each {@code <image>} as the tower's count of slots: tokenized once, it gives the
     * prompt's length ({@code ids().length}) and, with the features, its {@link #sequence}.
     */
    public MultimodalPrompt encode(String text) {
        return MultimodalPrompt.encode(tokenizer(), text, tower.numTokens());
    }

    private Prompt prompt(MultimodalPrompt p, List<float[]> features) {
        if (p.images() != features.size()) {
            throw new BadInputException("the prompt has " + p.images() + " <image> placeholder(s) but "
                    + features.size() + " image(s) were given");
        }
        return new Prompt(p.ids(), project(features));
    }

    /**
     * Logits [T, V] for token ids holding {@code imageTokenId} slots and the images' pixel values
     * [images, 3, H, W] (LLaVA's forward, used for parity checks).
     */
    public float[] logits(long[] inputIds, int imageTokenId, float[] pixelValues, int images) {
        Features f = tower.encodePixels(pixelValues, images);
        List<float[]> feats = new ArrayList<>();
        for (int i = 0; i < images; i++) {
            feats.add(f.image(i));
        }
        return llm.logits(prompt(MultimodalPrompt.fromIds(inputIds, imageTokenId, tower.numTokens()), feats));
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
     * Answers several questions: those with choices are scored together (on DJL their prompts run as one batch,
     * then all their options), the others are generated one by one. {@code features} holds each question's tower
     * features.
     */
    public List<Answer> answer(List<Question> questions, List<List<float[]>> features) {
        Answer[] out = new Answer[questions.size()];
        List<Integer> scored = new ArrayList<>();
        List<Prompt> prompts = new ArrayList<>();
        List<List<int[]>> conts = new ArrayList<>();
        for (int i = 0; i < questions.size(); i++) {
            Question q = questions.get(i);
            String text = template.render(q);
            if (q.choices().isEmpty()) {
                out[i] = new Answer(generate(text, features.get(i), GenerationOptions.greedy(64)).strip(), null, -1,
                        Map.of(), new double[0]);
            } else {
                scored.add(i);
                prompts.add(prompt(text, features.get(i)));
                conts.add(continuationIds(text, continuations(q.choices())));
            }
        }
        if (!scored.isEmpty()) {
            List<double[]> ll = llm.scoreContinuations(prompts, conts);
            for (int k = 0; k < scored.size(); k++) {
                out[scored.get(k)] = choose(questions.get(scored.get(k)), ll.get(k));
            }
        }
        return List.of(out);
    }

    /** The most likely choice, with the choices' probabilities (softmax of their log-likelihoods). */
    private static Answer choose(Question q, double[] ll) {
        int best = 0;
        for (int i = 1; i < ll.length; i++) {
            best = ll[i] > ll[best] ? i : best;
        }
        double logZ = Logits.logNormalizer(ll);
        Map<String, Double> probs = new LinkedHashMap<>();
        for (int i = 0; i < ll.length; i++) {
            probs.put(String.valueOf((char) ('A' + i)), Math.exp(ll[i] - logZ));
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
        return llm.scoreContinuations(prompt(prompt, features), continuationIds(prompt, continuations));
    }

    /** The token ids scored for each continuation after {@code prompt}: the ids a bundle's training learnt. */
    public List<int[]> continuationIds(String prompt, List<String> continuations) {
        return MultimodalPrompt.answerIds(tokenizer(), prompt, continuations);
    }

    /** Generates a continuation of a prompt with images spliced in (greedy or sampled). */
    public String generate(String prompt, List<float[]> features, GenerationOptions options) {
        return tokenizer().decode(llm.generate(prompt(prompt, features), options, null).tokens());
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
                               Consumer<String> onText) {
        TextStream text = new TextStream(tokenizer(), stops, onText);
        Prompt p = prompt(prompt, features); // tokenized once: its length is the usage's prompt tokens
        LanguageModel.Generation g = llm.generate(p, options, (tok, logits, off) -> text.accept(tok));
        return new Completion(text.finish(), p.length(), g.tokens().length, g.finish() == Decoder.Finish.LENGTH);
    }

    /**
     * A prompt with its images' features spliced in, ready to join the LLM's {@link Decoder} (continuous
     * batching: {@code llm().decoder()}).
     */
    public Decoder.Sequence sequence(String prompt, List<float[]> features, GenerationOptions options) {
        return sequence(encode(prompt), features, options);
    }

    /** As {@link #sequence(String, List, GenerationOptions)} for a prompt already {@link #encode encoded}. */
    public Decoder.Sequence sequence(MultimodalPrompt prompt, List<float[]> features, GenerationOptions options) {
        return Decoder.Sequence.of(prompt(prompt, features), options);
    }

    /** Positions a prompt takes in the LLM: its text tokens and the tower's tokens for each {@code <image>}. */
    public int promptTokens(String prompt) {
        return encode(prompt).ids().length;
    }

    @Override
    public void close() {
        manager.close();
        tower.close();
        llm.close();
    }
}
