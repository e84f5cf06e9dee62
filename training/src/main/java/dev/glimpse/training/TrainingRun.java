package dev.glimpse.training;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.AdapterConfig;
import dev.glimpse.fusion.Bundle;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.vision.FeatureCache;
import dev.glimpse.vision.VisionTower;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * One adapter training run as a library call — what {@code glimpse train}, the demo and the examples each do: a
 * fresh projector (and optionally LoRA / adaption prompts) trained through a frozen LLM on the tower's features, a
 * held-out loss while it trains, then the adapter and a {@link Bundle} that {@code VisionLanguageModel.load} reads.
 * The caller opens the tower and the LLM (on the device and in the type it chose) and closes them.
 *
 * <pre>{@code
 * try (VisionTower tower = VisionTower.open(towerDir, "-2", true);
 *      CausalLM lm = CausalLM.load(llmDir)) {
 *     TrainingRun.Result r = TrainingRun.builder(tower, lm)
 *             .examples(train).features(TrainingRun.cachedFeatures(cache, train, Progress.NONE))
 *             .template(PromptTemplate.LLAVA).options(TrainingOptions.builder().epochs(3).build())
 *             .out(runDir).bundle(runDir, towerDir.toString(), llmDir.toString(), "qwen2.5-0.5b")
 *             .run();
 * }
 * }</pre>
 */
public final class TrainingRun {
    /** What a run made: the trainer's outcome, the trained parts, and the bundle directory (null when none). */
    public record Result(AdapterTrainer.Result training, Projector projector, LanguageAdapter llmAdapter,
                         Adapter adapter, Path bundle) {}

    private TrainingRun() {}

    /** A run over {@code tower}'s features through the frozen {@code llm}. */
    public static Builder builder(VisionTower tower, CausalLM llm) {
        return new Builder(tower, llm);
    }

    /**
     * The tower features of every image the examples name, from {@code cache}: each image encoded once (reused when
     * the cache has its content hash); an image that cannot be read is a one-line error naming it.
     */
    public static Function<String, float[]> cachedFeatures(FeatureCache cache, List<TrainingExample> examples,
                                                           Progress progress) {
        LinkedHashSet<String> paths = new LinkedHashSet<>();
        examples.forEach(ex -> paths.addAll(ex.imageKeys()));
        FeatureCache.Result enc = cache.encodeAll(paths.stream().map(Path::of).toList(), 16, progress);
        if (!enc.failed().isEmpty()) {
            throw new BadInputException(enc.failed().size() + " training image(s) could not be read, first: "
                    + enc.failed().get(0).reason());
        }
        Map<String, String> hashes = new ConcurrentHashMap<>();
        return key -> cache.get(hashes.computeIfAbsent(key, k -> FeatureCache.contentHash(Path.of(k))));
    }

    /** What to train, on what, and where to write it. */
    public static final class Builder {
        private final VisionTower tower;
        private final CausalLM llm;
        private List<TrainingExample> examples = List.of();
        private List<TrainingExample> heldOut = List.of();
        private Function<String, float[]> features = new HashMap<String, float[]>()::get;
        private PromptTemplate template = PromptTemplate.RAW;
        private ProjectorType projectorType = ProjectorType.MLP2X_GELU;
        private boolean gate;
        private boolean positionEmbedding;
        private LanguageAdapter llmAdapter;
        private TrainingOptions options = TrainingOptions.builder().build();
        private Path out;
        private boolean resume;
        private Progress progress = Progress.NONE;
        private Path bundleDir;
        private String visionRef;
        private String llmRef;
        private String llmName;

        private Builder(VisionTower tower, CausalLM llm) {
            this.tower = tower;
            this.llm = llm;
        }

        /** The examples trained on. */
        public Builder examples(List<TrainingExample> e) {
            this.examples = List.copyOf(e);
            return this;
        }

        /** Examples held out: their mean loss is logged every {@code evalEvery} steps and at the end. */
        public Builder heldOut(List<TrainingExample> e) {
            this.heldOut = List.copyOf(e);
            return this;
        }

        /** The tower features of an example's image key ({@link #cachedFeatures}, or a map's {@code get}). */
        public Builder features(Function<String, float[]> f) {
            this.features = f;
            return this;
        }

        /** The prompt contract the examples were rendered with; the bundle records it. */
        public Builder template(PromptTemplate t) {
            this.template = t;
            return this;
        }

        /** The projector: its kind, a zero-initialised gate, a learnt position embedding per image token. */
        public Builder projector(ProjectorType type, boolean withGate, boolean withPositionEmbedding) {
            this.projectorType = type;
            this.gate = withGate;
            this.positionEmbedding = withPositionEmbedding;
            return this;
        }

        /** LoRA and/or adaption prompts trained jointly with the projector (null: the projector only). */
        public Builder llmAdapter(LanguageAdapter a) {
            this.llmAdapter = a;
            return this;
        }

        public Builder options(TrainingOptions o) {
            this.options = o;
            return this;
        }

        /** Where checkpoints, metrics.jsonl, loss_curve.png and the trained weights go. */
        public Builder out(Path dir) {
            this.out = dir;
            return this;
        }

        /** Continue from the checkpoint in {@link #out} if there is one. */
        public Builder resume(boolean r) {
            this.resume = r;
            return this;
        }

        public Builder progress(Progress p) {
            this.progress = p == null ? Progress.NONE : p;
            return this;
        }

        /**
         * Writes a bundle into {@code dir} (its adapter in {@code dir/adapter}): {@code vision} and {@code llm} are
         * how the bundle names the tower and the LLM (paths relative to {@code dir}, absolute paths or hub ids), and
         * {@code name} is the LLM's name the adapter records.
         */
        public Builder bundle(Path dir, String vision, String llm, String name) {
            this.bundleDir = dir;
            this.visionRef = vision;
            this.llmRef = llm;
            this.llmName = name;
            return this;
        }

        public Result run() {
            if (out == null) {
                throw new BadInputException("TrainingRun: out(...) is required");
            }
            Projector p = Projector.initialize(projectorType, tower.hiddenSize(), llm.config().hiddenSize(), gate,
                    options.seed());
            if (positionEmbedding) {
                p = p.withPositionEmbedding(tower.numTokens());
            }
            AdapterTrainer trainer = new AdapterTrainer(llm, p, llmAdapter, options);
            AdapterTrainer.Result r = trainer.train(examples, features, tower.numTokens(), out, resume, progress,
                    heldOut.isEmpty() ? null : heldOutLoss(trainer));
            int h = llm.config().hiddenSize();
            Adapter adapter = new Adapter(p, new AdapterConfig(projectorType, tower.hiddenSize(), h, h,
                    tower.numTokens(), gate, tower.name(), tower.layer(), llmName));
            if (bundleDir != null) {
                adapter.save(bundleDir.resolve("adapter"));
                String llmAdapterRef = llmAdapter == null ? null
                        : bundleDir.toAbsolutePath().relativize(out.toAbsolutePath().resolve(AdapterTrainer.LLM_ADAPTER))
                        .toString();
                new Bundle(visionRef, tower.layer(), true, llmRef, "adapter", template, llmAdapterRef)
                        .write(bundleDir);
            }
            return new Result(r, p, llmAdapter, adapter, bundleDir);
        }

        /** The mean loss over the held-out examples, in batches of the training batch size. */
        private AdapterTrainer.Evaluator heldOutLoss(AdapterTrainer trainer) {
            BatchBuilder bb = new BatchBuilder(llm, tower.numTokens(), options.endOfSequence());
            return (proj, step) -> {
                double sum = 0;
                for (int i = 0; i < heldOut.size(); i += options.batchSize()) {
                    List<TrainingExample> chunk = heldOut.subList(i, Math.min(heldOut.size(), i + options.batchSize()));
                    sum += trainer.loss(BatchBuilder.pad(chunk.stream().map(bb::tokenize).toList(), chunk, features))
                            * chunk.size();
                }
                return Map.of("heldout_loss", sum / heldOut.size());
            };
        }
    }
}
