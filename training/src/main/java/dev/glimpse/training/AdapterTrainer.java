package dev.glimpse.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.Parameters;
import dev.glimpse.core.Precision;
import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Projector;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Trains a projector through a frozen LLM: each step runs projector → splice into text embeddings → frozen LLM →
 * loss on the answer tokens (transformers' convention: logits[:, :-1] against labels[:, 1:], ignoring −100) →
 * backward into the projector only → AdamW with warmup and cosine decay, gradient clipping and accumulation.
 *
 * <p>Mixed precision: the frozen LLM and the activations run in the LLM's type (fp32, fp16 or bf16); each trainable
 * parameter enters the step as a working copy of that type, which is the autograd leaf, and its gradient is read
 * back into the fp32 master weights (the Java arrays of {@link #parameters()}), where AdamW updates them with fp32
 * moments. Casts inside the graph go through {@link Precision#cast}, which autograd follows, and the loss's
 * log-softmax is taken in fp32. fp16 adds dynamic loss scaling ({@link LossScaler}): a step whose gradients
 * overflowed is skipped.
 *
 * <p>Runs are seeded and deterministic on the CPU; checkpoints (projector, optimizer state, loss scale, data
 * position) are written atomically every N steps and {@code resume} continues exactly where a run stopped.
 *
 * <p>Not thread-safe: one training run at a time per trainer (DJL allows one open GradientCollector per process).
 */
public final class AdapterTrainer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AdapterTrainer.class);
    /** Called every {@code evalEvery} steps and at the end; returns metrics to log (e.g. held-out accuracy). */
    @FunctionalInterface
    public interface Evaluator {
        Map<String, Double> evaluate(Projector projector, int step);
    }

    /** The outcome of a run. */
    public record Result(int steps, int plannedSteps, double finalLoss, double samplesPerSecond, double seconds,
                         boolean stoppedByTimeLimit, Path adapterWeights, Path metrics, Path lossCurve,
                         List<double[]> losses) {}

    /** Loss and the gradient of every trained parameter (projector and LLM adapter). */
    public record LossAndGrads(double loss, Map<String, float[]> grads) {}

    /** Where {@link #train} writes the LLM adapter (PEFT directories lora/ and adaption_prompt/). */
    public static final String LLM_ADAPTER = "llm_adapter";

    private final CausalLM llm;
    private final Projector projector;
    private final LanguageAdapter llmAdapter;
    private final TrainingOptions options;
    private final Parameters parameters = new Parameters();
    private final LossScaler scaler;
    private java.util.function.LongSupplier clock = System::nanoTime;

    public AdapterTrainer(CausalLM llm, Projector projector, TrainingOptions options) {
        this(llm, projector, null, options);
    }

    /**
     * Trains the projector and, when {@code llmAdapter} is not null, LoRA and/or adaption prompts inside the frozen
     * LLM jointly with it (at {@link TrainingOptions#llmAdapterLearningRate()}).
     */
    public AdapterTrainer(CausalLM llm, Projector projector, LanguageAdapter llmAdapter, TrainingOptions options) {
        DataType compute = options.dataType() == null ? llm.dataType() : options.dataType();
        if (llm.dataType() != compute) {
            throw new BadInputException("training asks for " + Precision.name(compute) + " but the LLM is loaded as "
                    + Precision.name(llm.dataType()) + "; load it with " + compute);
        }
        Precision.require(compute, llm.manager().getDevice());
        this.scaler = options.lossScaler(compute);
        if (llmAdapter != null) {
            llmAdapter.checkCompatible(llm.config());
            if (llm.adapter().isPresent()) {
                throw new BadInputException("the LLM already has an adapter attached; train on the plain LLM");
            }
        }
        this.llm = llm;
        this.projector = projector;
        this.llmAdapter = llmAdapter;
        this.options = options;
        // one view of both: the same live arrays, so the optimizer's updates reach the projector and the adapter
        for (Parameters part : llmAdapter == null ? List.of(projector.parameters())
                : List.of(projector.parameters(), llmAdapter.parameters())) {
            part.values().forEach((k, v) -> {
                if (parameters.contains(k)) {
                    throw new IllegalStateException("parameter name clash: " + k);
                }
                parameters.put(k, part.shape(k), v);
            });
        }
    }

    public Projector projector() {
        return projector;
    }

    /** The LLM adapter being trained, or null when only the projector is. */
    public LanguageAdapter llmAdapter() {
        return llmAdapter;
    }

    /** Every trained parameter (projector names, then PEFT names); the arrays are live. */
    public Parameters parameters() {
        return parameters;
    }

    /** The compute type of the LLM and the activations. */
    public DataType dataType() {
        return llm.dataType();
    }

    /** The run's loss scaler (enabled for fp16 only). */
    public LossScaler lossScaler() {
        return scaler;
    }

    /**
     * Forward and backward of one batch (no dropout); the loss is the mean over its answer tokens. The gradients are
     * fp32 and unscaled (fp16: taken at the current loss scale, then divided by it; inf or NaN where they
     * overflowed).
     */
    public LossAndGrads lossAndGradients(TrainingBatch batch) {
        LossAndGrads lg = lossAndGradients(batch, null);
        scaler.unscale(lg.grads());
        return lg;
    }

    /** The loss and the gradients still multiplied by the loss scale. */
    private LossAndGrads lossAndGradients(TrainingBatch batch, Long dropoutSeed) {
        DataType compute = llm.dataType();
        try (NDManager m = llm.manager().newSubManager()) {
            Map<String, NDArray> params = projector.toNDArrays(m, compute, true);
            LanguageAdapter.Weights ad = llmAdapter == null ? null : llmAdapter.bind(m, compute, true);
            if (ad != null && dropoutSeed != null) {
                ad = ad.withDropout(dropoutSeed);
            }
            double loss;
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                if (options.activationCheckpointing()) {
                    loss = llm.backwardCheckpointed(input(m, batch, params, ad), h -> lossOfHidden(m, batch, h),
                            scaler.scale());
                } else {
                    NDArray l = loss(m, batch, params, ad);
                    loss = l.getFloat();
                    // a scale made by libtorch: mul's backward keeps it; a Java-buffer scalar could be freed first
                    gc.backward(scaler.enabled() ? l.mul(m.full(new Shape(), (float) scaler.scale(), l.getDataType()))
                            : l);
                }
            }
            Map<String, float[]> grads = new LinkedHashMap<>();
            params.forEach((k, v) -> grads.put(k, fp32(v.getGradient())));
            if (ad != null) {
                ad.arrays().forEach((k, v) -> grads.put(k, fp32(v.getGradient())));
            }
            return new LossAndGrads(loss, grads);
        }
    }

    private static float[] fp32(NDArray grad) {
        return (grad.getDataType() == DataType.FLOAT32 ? grad : grad.toType(DataType.FLOAT32, false)).toFloatArray();
    }

    /** The loss of a batch without gradients (evaluation). */
    public double loss(TrainingBatch batch) {
        try (NDManager m = llm.manager().newSubManager()) {
            return loss(m, batch, projector.toNDArrays(m, llm.dataType(), false),
                    llmAdapter == null ? null : llmAdapter.bind(m, llm.dataType(), false)).getFloat();
        }
    }

    private NDArray loss(NDManager m, TrainingBatch batch, Map<String, NDArray> params, LanguageAdapter.Weights ad) {
        NDArray hidden = llm.forward(input(m, batch, params, ad)).lastHiddenState();
        return lossOfHidden(m, batch, hidden);
    }

    /** The LLM's input for a batch: projected image features spliced into the text embeddings, mask, adapter. */
    private CausalLM.Input input(NDManager m, TrainingBatch batch, Map<String, NDArray> params,
                                 LanguageAdapter.Weights ad) {
        int b = batch.size();
        int t = batch.length();
        NDArray image = null;
        if (!batch.features().isEmpty()) {
            int n = batch.features().get(0).length;
            float[] all = new float[batch.features().size() * n];
            for (int i = 0; i < batch.features().size(); i++) {
                System.arraycopy(batch.features().get(i), 0, all, i * n, n);
            }
            NDArray x = m.create(all, new Shape(all.length / projector.inputDim(), projector.inputDim()));
            image = projector.forward(Precision.cast(x, llm.dataType()), params);
        }
        NDArray embeds = llm.splice(m, batch.ids(), image);
        if (ad != null && ad.adapter().adaptionPrompt().isPresent()) {
            ad = ad.withVisual(CausalLM.globalImageFeature(m, batch.ids(), image));
        }
        long[] mask = new long[b * t];
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < t; j++) {
                mask[r * t + j] = batch.mask()[r][j];
            }
        }
        CausalLM.Input in = CausalLM.Input.embeds(embeds).attentionMask(m.create(mask, new Shape(b, t))).adapter(ad)
                .noLogits();
        return paddedAfter(batch.mask()) ? in.paddingAfterTokens() : in;
    }

    /** The mean loss over the answer tokens, from the final hidden state [B, T, H]. */
    private NDArray lossOfHidden(NDManager m, TrainingBatch batch, NDArray hidden) {
        int b = batch.size();
        int t = batch.length();
        // only positions whose next token is a target need logits: same loss, far fewer vocabulary projections
        List<Long> rows = new ArrayList<>();
        List<Long> targets = new ArrayList<>();
        for (int r = 0; r < b; r++) {
            for (int j = 0; j + 1 < t; j++) {
                int label = batch.labels()[r][j + 1];
                if (label != -100) {
                    rows.add((long) r * t + j);
                    targets.add((long) label);
                }
            }
        }
        if (rows.isEmpty()) {
            throw new BadInputException("a batch has no answer tokens to learn from");
        }
        NDArray flat = hidden.reshape((long) b * t, llm.config().hiddenSize());
        NDArray picked = flat.get(m.create(rows.stream().mapToLong(Long::longValue).toArray()));
        // log-softmax in fp32 whatever the compute type (its dtype argument widens inside the graph)
        NDArray logp = JniUtils.logSoftmax((PtNDArray) llm.logits(picked), -1, DataType.FLOAT32);
        NDArray tgt = m.create(targets.stream().mapToLong(Long::longValue).toArray(), new Shape(targets.size(), 1));
        return logp.gather(tgt, 1).mean().neg();
    }

    /**
     * Runs a step, turning libtorch's out-of-memory error (a Java exception from DJL, never a crash) into one line that
     * names the fixes; the checkpoints written so far stay, so the run resumes after the change.
     */
    private LossAndGrads guardMemory(TrainingBatch batch, java.util.function.Supplier<LossAndGrads> stepRun) {
        try {
            return stepRun.get();
        } catch (ai.djl.engine.EngineException e) {
            String msg = String.valueOf(e.getMessage());
            if (!msg.toLowerCase(Locale.ROOT).contains("out of memory")) {
                throw e;
            }
            throw new BadInputException("out of " + (llm.manager().getDevice().isGpu() ? "GPU " : "") + "memory in a"
                    + " training step (batch " + batch.size() + " x " + batch.length() + " tokens, "
                    + Precision.name(llm.dataType()) + "): use a smaller --batch-size with --grad-accum to keep the"
                    + " effective batch" + (options.activationCheckpointing() ? "" : ", --activation-checkpointing")
                    + (llm.dataType() == DataType.FLOAT32 ? ", or --dtype bf16" : "") + "; resume with --resume", e);
        }
    }

    /** Whether every row's mask is ones then zeros (BatchBuilder's right padding): causal attention alone is exact. */
    static boolean paddedAfter(int[][] mask) {
        for (int[] row : mask) {
            for (int j = 1; j < row.length; j++) {
                if (row[j] == 1 && row[j - 1] == 0) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Learning rate at optimizer step {@code step} (0-based) of {@code total}: linear warmup, then cosine to 0. */
    public static double learningRate(double base, int step, int total, double warmupRatio) {
        int warmup = (int) Math.ceil(total * warmupRatio);
        if (step < warmup) {
            return base * (step + 1) / (double) warmup;
        }
        // clamped: past the plan (a resumed run given more steps) the rate stays at 0 instead of rising again
        double progress = Math.min(1.0, (step - warmup) / (double) Math.max(1, total - warmup));
        return base * Math.max(0.0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    /** Adds {@code grads} into {@code sum} (which may be null: then {@code grads} becomes the sum). */
    static Map<String, float[]> accumulate(Map<String, float[]> sum, Map<String, float[]> grads) {
        if (sum == null) {
            return grads;
        }
        for (Map.Entry<String, float[]> e : grads.entrySet()) {
            float[] d = sum.get(e.getKey());
            float[] g = e.getValue();
            for (int i = 0; i < d.length; i++) {
                d[i] += g[i];
            }
        }
        return sum;
    }

    static void scale(Map<String, float[]> grads, float factor) {
        for (float[] g : grads.values()) {
            for (int i = 0; i < g.length; i++) {
                g[i] *= factor;
            }
        }
    }

    /**
     * Scales all gradients together so that their global L2 norm is at most {@code maxNorm} (0 disables), as
     * torch.nn.utils.clip_grad_norm_ does (coefficient maxNorm / (norm + 1e-6), applied only when below 1); returns
     * the norm before clipping.
     */
    static double clipGradients(Map<String, float[]> grads, double maxNorm) {
        double norm = 0;
        for (float[] g : grads.values()) {
            for (float v : g) {
                norm += (double) v * v;
            }
        }
        norm = Math.sqrt(norm);
        if (maxNorm > 0) {
            double coef = maxNorm / (norm + 1e-6);
            if (coef < 1) {
                scale(grads, (float) coef);
            }
        }
        return norm;
    }

    /** The batches of one epoch: shuffled with the run's seed, bucketed by length, the batch order shuffled. */
    static List<List<Integer>> epochBatches(List<Integer> lengths, int batchSize, long seed, int epoch) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < lengths.size(); i++) {
            order.add(i);
        }
        Random r = new Random(seed * 1_000_003L + epoch);
        Collections.shuffle(order, r);
        // length bucketing: sort within windows of 50 batches so padding stays small yet batches stay mixed
        int window = batchSize * 50;
        List<List<Integer>> batches = new ArrayList<>();
        for (int w = 0; w < order.size(); w += window) {
            List<Integer> chunk = new ArrayList<>(order.subList(w, Math.min(order.size(), w + window)));
            chunk.sort((a, b) -> Integer.compare(lengths.get(a), lengths.get(b)));
            for (int i = 0; i < chunk.size(); i += batchSize) {
                batches.add(new ArrayList<>(chunk.subList(i, Math.min(chunk.size(), i + batchSize))));
            }
        }
        Collections.shuffle(batches, r);
        return batches;
    }

    /**
     * Trains on {@code examples}, writing checkpoints, metrics.jsonl, loss_curve.png and the final
     * adapter.safetensors under {@code out}. With {@code resume} it continues from {@code out}'s checkpoint.
     */
    public Result train(List<TrainingExample> examples, Function<String, float[]> features, int tokensPerImage,
                        Path out, boolean resume, Progress progress, Evaluator evaluator) {
        if (examples.isEmpty()) {
            throw new BadInputException("no training examples");
        }
        Data data = new Data(examples, tokenize(examples, tokensPerImage), features);
        Run run = startOrResume(out, resume, plannedSteps(examples.size()));
        TimeBudget budget = new TimeBudget(options.timeLimit(), clock, run.step);
        List<List<Integer>> batches = epochBatches(data.lengths(), options.batchSize(), options.seed(), run.epoch);
        progress.update(run.step, run.planned, "");
        boolean byTime = false;
        while (run.step < run.planned) {
            if (run.batchIndex + options.gradientAccumulation() > batches.size()) {
                run.epoch++;
                run.batchIndex = 0;
                batches = epochBatches(data.lengths(), options.batchSize(), options.seed(), run.epoch);
            }
            StepOutcome s = optimizerStep(run, batches, data);
            double elapsed = budget.observe(run.step);
            run.losses.add(new double[] {run.step, s.loss()});
            Map<String, Object> row = metricsRow(run, s, elapsed);
            if (options.evalEvery() > 0 && evaluator != null && run.step % options.evalEvery() == 0
                    && run.step < run.planned) {
                row.putAll(evaluator.evaluate(projector, run.step));
            }
            appendMetrics(run.metrics, row);
            run.planned = budget.plan(run.step, run.planned);
            if (options.checkpointEvery() > 0 && run.step % options.checkpointEvery() == 0 && run.step < run.planned) {
                run.checkpoint();
            }
            progress.update(run.step, run.planned, String.format(Locale.ROOT, "loss %.4f", s.loss()));
            if (budget.exhausted() && run.step < run.planned) {
                run.planned = budget.stopped(run.step, run.planned);
                byTime = true;
                break;
            }
        }
        return finish(run, budget, byTime, evaluator);
    }

    /** Uses {@code nanos} instead of System.nanoTime for the time budget and the speed (tests). */
    AdapterTrainer clock(java.util.function.LongSupplier nanos) {
        this.clock = nanos;
        return this;
    }

    /** The examples, their token ids and lengths, and where their features come from. */
    private record Data(List<TrainingExample> examples, List<BatchBuilder.Tokens> tokens,
                        Function<String, float[]> features) {
        List<Integer> lengths() {
            return tokens.stream().map(t -> t.ids().length).toList();
        }

        /** The padded batch of the examples at {@code idx}. */
        TrainingBatch batch(List<Integer> idx) {
            return BatchBuilder.pad(idx.stream().map(tokens::get).toList(), idx.stream().map(examples::get).toList(),
                    features);
        }
    }

    private List<BatchBuilder.Tokens> tokenize(List<TrainingExample> examples, int tokensPerImage) {
        BatchBuilder builder = new BatchBuilder(llm, tokensPerImage, options.endOfSequence());
        return examples.stream().map(builder::tokenize).toList();
    }

    /** Optimizer steps from the options: maxSteps, or epochs × the steps of one epoch. */
    private int plannedSteps(int examples) {
        int batchesPerEpoch = (examples + options.batchSize() - 1) / options.batchSize();
        int stepsPerEpoch = Math.max(1, batchesPerEpoch / options.gradientAccumulation());
        return options.maxSteps() > 0 ? options.maxSteps() : stepsPerEpoch * options.epochs();
    }

    /** Where a run stands: its position in the data, its plan, its optimizer, its files. */
    private final class Run {
        final Path out;
        final Path checkpointFile;
        final Path metrics;
        final AdamW adam = new AdamW(options.beta1(), options.beta2(), options.eps(), options.weightDecay());
        int step;
        int epoch;
        int batchIndex;
        int planned;
        int samples;
        double lastLoss = Double.NaN;
        List<double[]> losses = new ArrayList<>();

        Run(Path out, int planned) {
            this.out = out;
            this.checkpointFile = out.resolve(TrainingCheckpoint.FILE);
            this.metrics = out.resolve("metrics.jsonl");
            this.planned = planned;
        }

        void checkpoint() {
            TrainingCheckpoint.write(checkpointFile, parameters, adam, scaler, step, epoch, batchIndex, planned,
                    options.seed());
        }
    }

    /** A fresh run in {@code out}, or the one its checkpoint holds (masters, AdamW, loss scale, data position). */
    private Run startOrResume(Path out, boolean resume, int planned) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new GlimpseException("cannot create " + out + ": " + e.getMessage(), e);
        }
        AtomicFile.removeLeftovers(out); // temporary files of writes a killed run never finished
        Run run = new Run(out, planned);
        if (resume && TrainingCheckpoint.existsIn(out)) {
            TrainingCheckpoint c = TrainingCheckpoint.restore(out, parameters, run.adam, scaler);
            run.step = c.step();
            run.epoch = c.epoch();
            run.batchIndex = c.batchIndex();
            run.planned = c.plannedSteps();
            run.losses = TrainingCheckpoint.trimMetrics(run.metrics, run.step);
        } else {
            writeMetricsHeader(run.metrics);
        }
        return run;
    }

    /** What one optimizer step did. */
    private record StepOutcome(double loss, double lr, double gradNorm, int tokens, double lossScale,
                               boolean skipped) {}

    /**
     * One optimizer step: gradients of {@code gradientAccumulation} micro-batches averaged, unscaled (fp16),
     * clipped, then AdamW with the projector's and the LLM adapter's learning rates; an overflowed step is skipped.
     */
    private StepOutcome optimizerStep(Run run, List<List<Integer>> batches, Data data) {
        Map<String, float[]> acc = null;
        double lossSum = 0;
        int tokenCount = 0;
        for (int a = 0; a < options.gradientAccumulation(); a++) {
            long dropoutSeed = options.seed() * 1_000_003L + run.step * 64L + a;
            TrainingBatch batch = data.batch(batches.get(run.batchIndex++));
            LossAndGrads lg = guardMemory(batch, () -> lossAndGradients(batch, dropoutSeed));
            run.samples += batch.size();
            lossSum += lg.loss();
            tokenCount += batch.targetTokens();
            acc = accumulate(acc, lg.grads());
        }
        scale(acc, 1f / options.gradientAccumulation());
        double lossScale = scaler.scale();
        boolean finite = scaler.unscale(acc);
        double norm = finite ? clipGradients(acc, options.clipNorm()) : Double.NaN;
        double lr = learningRate(options.learningRate(), run.step, run.planned, options.warmupRatio());
        double llmLr = learningRate(options.llmAdapterLearningRate(), run.step, run.planned, options.warmupRatio());
        if (finite) {
            run.adam.update(parameters.values(), acc, k -> projector.parameters().contains(k) ? lr : llmLr);
        } else {
            // fp16 overflow: the masters and moments stay as they were; the next step tries a halved scale
            LOG.info("step {}: gradients overflowed at loss scale {}; step skipped", run.step + 1, lossScale);
        }
        scaler.update(finite);
        run.lastLoss = lossSum / options.gradientAccumulation();
        run.step++;
        return new StepOutcome(run.lastLoss, lr, norm, tokenCount, lossScale, !finite);
    }

    /** The step's line of metrics.jsonl. */
    private Map<String, Object> metricsRow(Run run, StepOutcome s, double elapsed) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", run.step);
        row.put("epoch", run.epoch);
        row.put("loss", s.loss());
        row.put("lr", s.lr());
        row.put("grad_norm", s.gradNorm());
        row.put("tokens", s.tokens());
        if (scaler.enabled()) {
            row.put("loss_scale", s.lossScale());
            row.put("skipped", s.skipped());
        }
        row.put("elapsed_s", elapsed);
        return row;
    }

    /** Saves the adapter and the last checkpoint, runs the final evaluation, draws the loss curve. */
    private Result finish(Run run, TimeBudget budget, boolean byTime, Evaluator evaluator) {
        Path weights = run.out.resolve("adapter.safetensors");
        projector.save(weights);
        if (llmAdapter != null) {
            llmAdapter.save(run.out.resolve(LLM_ADAPTER), "");
        }
        run.checkpoint();
        if (evaluator != null) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("step", run.step);
            row.put("final", true);
            row.putAll(evaluator.evaluate(projector, run.step));
            appendMetrics(run.metrics, row);
        }
        Path curve = run.out.resolve("loss_curve.png");
        LossCurve.write(run.losses, curve, "adapter training loss");
        double secs = budget.seconds();
        return new Result(run.step, run.planned, run.lastLoss, secs > 0 ? run.samples / secs : 0, secs, byTime,
                weights, run.metrics, curve, run.losses);
    }

    private static void writeMetricsHeader(Path metrics) {
        AtomicFile.writeString(metrics, "");
    }

    static void appendMetrics(Path metrics, Map<String, Object> row) {
        try {
            String line = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(row) + "\n";
            Files.writeString(metrics, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new GlimpseException("cannot append to " + metrics + ": " + e.getMessage(), e);
        }
    }
}
