package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.Precision;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A frozen Llama-family causal language model (Llama, Qwen2, Qwen3) loaded from a Hugging Face checkpoint.
 * Forward passes from token ids or from {@code inputs_embeds} (gradients flow to the embeddings, never to the
 * weights), batched generation with a KV cache, and log-likelihood scoring of candidate continuations.
 *
 * <p>Thread-safe: weights are read-only and every call works in the caller's (or its own) NDManager.
 * Results of {@link #forward} live in the manager of the arrays passed in.
 */
public final class CausalLM implements LanguageModel {
    private final NDManager weights;
    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final GenerationConfig generation;
    private final DataType dtype;
    private volatile LanguageAdapter.Weights attached;
    private volatile LanguageAdapter attachedAdapter;
    private boolean loraMerged;

    private CausalLM(NDManager weights, LlamaModel model, Tokenizer tokenizer, GenerationConfig generation,
                     DataType dtype) {
        this.weights = weights;
        this.model = model;
        this.tokenizer = tokenizer;
        this.generation = generation;
        this.dtype = dtype;
    }

    /** Loads a model directory (config.json, safetensors, optional tokenizer) on Glimpse's device. */
    public static CausalLM load(Path dir) {
        NDManager m = GlimpseEngine.newManager();
        return load(dir, m, defaultType(m));
    }

    /** Loads onto {@code manager}'s device as {@code dtype}; the model owns and closes {@code manager}. */
    public static CausalLM load(Path dir, NDManager manager, DataType dtype) {
        LanguageModelConfig config = LanguageModelConfig.read(dir);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            return fromCheckpoint(config, ckpt, "model.", "lm_head.weight", manager, dtype,
                    Files.isRegularFile(dir.resolve("tokenizer.json")) ? Tokenizer.load(dir) : null,
                    GenerationConfig.read(dir));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Builds the model from tensors under {@code prefix} (e.g. {@code model.language_model.} in a LLaVA checkpoint).
     * Takes ownership of {@code manager}.
     */
    public static CausalLM fromCheckpoint(LanguageModelConfig config, Checkpoint ckpt, String prefix, String headKey,
                                          NDManager manager, DataType dtype, Tokenizer tokenizer,
                                          GenerationConfig generation) {
        Precision.require(dtype, manager.getDevice());
        LlamaModel model = new LlamaModel(config, ckpt, manager, dtype, prefix, headKey);
        return new CausalLM(manager, model, tokenizer, generation, dtype);
    }

    /** fp32 on the CPU; on a GPU bf16 where the JNI has it (Glimpse's build), else fp16. */
    public static DataType defaultType(NDManager m) {
        if (!m.getDevice().isGpu()) {
            return DataType.FLOAT32;
        }
        return Precision.bfloat16Available() ? DataType.BFLOAT16 : DataType.FLOAT16;
    }

    @Override
    public LanguageModelConfig config() {
        return model.config;
    }

    @Override
    public InferenceEngine engine() {
        return InferenceEngine.DJL;
    }

    @Override
    public ai.djl.Device device() {
        return weights.getDevice();
    }

    @Override
    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** The tokenizer, or a clear error when the model directory has none. */
    public Tokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new BadInputException("this model has no tokenizer.json; pass token ids instead of text");
        }
        return tokenizer;
    }

    @Override
    public GenerationConfig generationConfig() {
        return generation;
    }

    @Override
    public DataType dataType() {
        return dtype;
    }

    /** The manager holding the weights (its device is the model's device). */
    public NDManager manager() {
        return weights;
    }

    LlamaModel model() {
        return model;
    }

    /**
     * Attaches LLM adapters (LoRA and/or adaption prompts) to every later call. With {@code mergeLora} the LoRA is
     * folded into the weights once (W += scaling·B·A, as PEFT's merge_and_unload): inference then costs nothing
     * extra, and the weights are changed for good. Adaption prompts cannot be merged and stay attached. Call before
     * sharing the model between threads; at most one adapter per model.
     */
    public synchronized void attach(LanguageAdapter adapter, boolean mergeLora) {
        if (attachedAdapter != null || loraMerged) {
            throw new IllegalStateException("this model already has an LLM adapter attached");
        }
        adapter.checkCompatible(config());
        LanguageAdapter runtime = adapter;
        if (mergeLora && adapter.lora().isPresent()) {
            LoraConfig c = adapter.lora().get();
            try (NDManager m = weights.newSubManager()) {
                LanguageAdapter.Weights w = adapter.bind(m, DataType.FLOAT32, false);
                for (int layer = 0; layer < model.numLayers(); layer++) {
                    for (String t : LoraConfig.ALL_LINEAR) {
                        NDArray a = w.loraA(layer, t);
                        if (a != null) {
                            model.mergeLora(layer, t, a, w.loraB(layer, t), c.scaling());
                        }
                    }
                }
            }
            loraMerged = true;
            runtime = adapter.promptOnly();
        }
        attachedAdapter = adapter;
        attached = runtime == null ? null : runtime.bind(weights, dtype, false);
    }

    /** The attached LLM adapter, if any. */
    public Optional<LanguageAdapter> adapter() {
        return Optional.ofNullable(attachedAdapter);
    }

    /** A fresh KV cache whose arrays live under {@code manager}. */
    public KvCache newCache(NDManager manager) {
        return new KvCache(manager, model.numLayers());
    }

    /** Input embeddings [B, T, H] of token ids [B, T], in the ids' manager. */
    public NDArray embed(NDArray ids) {
        checkIds(ids);
        return model.embed(ids);
    }

    /** What to run: ids or embeddings, with optional mask, positions, cache and outputs. */
    public static final class Input {
        NDArray inputIds;
        NDArray inputsEmbeds;
        NDArray attentionMask;
        NDArray positionIds;
        KvCache cache;
        boolean hiddenStates;
        boolean lastTokenLogitsOnly;
        boolean logits = true;
        boolean paddingAfter;
        LanguageAdapter.Weights adapter;

        private Input() {}

        /** Token ids [B, T] (int64). */
        public static Input ids(NDArray inputIds) {
            Input i = new Input();
            i.inputIds = inputIds;
            return i;
        }

        /** Input embeddings [B, T, H]; attach a gradient to them to train what produced them. */
        public static Input embeds(NDArray inputsEmbeds) {
            Input i = new Input();
            i.inputsEmbeds = inputsEmbeds;
            return i;
        }

        /** 1 for real tokens, 0 for padding, [B, past + T]; default all ones. */
        public Input attentionMask(NDArray mask) {
            this.attentionMask = mask;
            return this;
        }

        /** Position ids [B, T]; default past + 0..T-1. */
        public Input positionIds(NDArray positions) {
            this.positionIds = positions;
            return this;
        }

        public Input cache(KvCache cache) {
            this.cache = cache;
            return this;
        }

        /** Also return every layer's hidden state (embeddings first, final normed state last). */
        public Input outputHiddenStates() {
            this.hiddenStates = true;
            return this;
        }

        /** Compute logits only for the last position (generation). */
        public Input lastTokenLogitsOnly() {
            this.lastTokenLogitsOnly = true;
            return this;
        }

        /** LLM adapter arrays for this call (training), instead of the attached adapter. */
        public Input adapter(LanguageAdapter.Weights weights) {
            this.adapter = weights;
            return this;
        }

        /**
         * Promises that the attention mask's zeros (if any) come only after each row's real tokens (right padding,
         * as training batches are built), so that with no cache the causal mask alone is exact for every real
         * token: fused attention then runs its causal kernel. Positions in the padding are not meaningful then.
         */
        public Input paddingAfterTokens() {
            this.paddingAfter = true;
            return this;
        }

        /** Skip the LM head (when only hidden states are wanted). */
        public Input noLogits() {
            this.logits = false;
            return this;
        }
    }

    /** Logits [B, T, V] (or [B, 1, V]), the final normed hidden state [B, T, H] and, on request, all of them. */
    public record Output(NDArray logits, NDArray lastHiddenState, List<NDArray> hiddenStates) {}

    public Output forward(Input in) {
        Prepared p = prepare(in);
        List<NDArray> hidden = in.hiddenStates ? new ArrayList<>() : null;
        NDArray last = model.decode(p.x(), p.mask(), p.causalOnly(), p.positions(), in.cache, hidden, p.adapter());
        NDArray logits = null;
        if (in.logits) {
            NDArray h = in.lastTokenLogitsOnly ? last.get(new NDIndex(":, -1:, :")) : last;
            logits = model.lmHead(h);
        }
        return new Output(logits, last, hidden);
    }

    /** An input made ready for the layers: embeddings of the model's type, additive mask, positions, adapter. */
    private record Prepared(NDArray x, NDArray mask, boolean causalOnly, NDArray positions,
                            LanguageAdapter.Weights adapter) {}

    private Prepared prepare(Input in) {
        NDArray x;
        if (in.inputsEmbeds != null) {
            x = in.inputsEmbeds;
            if (x.getShape().dimension() != 3 || x.getShape().get(2) != config().hiddenSize()) {
                throw new BadInputException("inputs_embeds has shape " + x.getShape() + ", expected [batch, tokens, "
                        + config().hiddenSize() + "]");
            }
        } else if (in.inputIds != null) {
            x = embed(in.inputIds);
        } else {
            throw new IllegalArgumentException("either input ids or inputs_embeds are needed");
        }
        NDManager m = x.getManager();
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        long past = in.cache == null ? 0 : in.cache.length();
        long total = past + t;
        if (total > config().maxPositionEmbeddings()) {
            throw new BadInputException("sequence of " + total + " tokens is longer than max_position_embeddings ("
                    + config().maxPositionEmbeddings() + "); shorten the prompt (Glimpse never truncates silently)");
        }
        NDArray mask = in.attentionMask;
        if (mask == null) {
            mask = m.ones(new Shape(b, total), DataType.INT64);
        } else if (mask.getShape().get(0) != b || mask.getShape().get(1) != total) {
            throw new BadInputException("attention_mask has shape " + mask.getShape() + ", expected [" + b + ", "
                    + total + "] (past " + past + " + new " + t + ")");
        }
        NDArray positions = in.positionIds;
        if (positions == null) {
            positions = m.arange(past, total, 1, DataType.INT64).expandDims(0).broadcast(new Shape(b, t));
        }
        x = Precision.cast(x, dtype); // keeps the graph when the embeddings carry gradients (training)
        boolean causalOnly = past == 0 && (in.attentionMask == null || in.paddingAfter);
        return new Prepared(x, additiveMask(mask, t, past, dtype), causalOnly, positions,
                in.adapter != null ? in.adapter : attached);
    }

    /**
     * Forward and backward with activation checkpointing, for training through a frozen LLM whose activations do not
     * fit: the layers first run without recording, keeping only each layer's input [B, T, H]; then, from the loss
     * down, each layer runs again with recording and is back-propagated at once, so at most one layer's activations
     * are alive. Costs one more forward pass. Every leaf the input descends from (the embeddings' producer, LoRA,
     * adaption prompts, the global visual feature) receives the gradient that {@code forward} + backward would give.
     * Call inside an open gradient collector; no cache.
     *
     * @param lossOfHidden the loss (a scalar) from the final normed hidden state [B, T, H]
     * @param scale what the loss is multiplied by before the backward (fp16 loss scaling; 1 otherwise)
     * @return the loss, unscaled
     */
    public double backwardCheckpointed(Input in, java.util.function.Function<NDArray, NDArray> lossOfHidden,
                                       double scale) {
        if (in.cache != null) {
            throw new IllegalArgumentException("activation checkpointing is for training: no KV cache");
        }
        Prepared p = prepare(in);
        LanguageAdapter.Weights ad = p.adapter();
        NDArray visual = ad == null ? null : ad.visual();
        NDArray visualLeaf = null;
        if (visual != null) {
            // one leaf for every layer's recompute (a copy outside the graph); its gradient sums over the layers
            visualLeaf = leaf(visual.duplicate());
            ad = ad.withVisual(visualLeaf);
        }
        LlamaModel.Pass pass = model.pass(p.x(), p.mask(), p.causalOnly(), p.positions(), null, ad);
        int n = model.numLayers();
        NDArray[] inputs = new NDArray[n + 1];
        boolean recording = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            inputs[0] = p.x().duplicate();
            for (int i = 0; i < n; i++) {
                inputs[i + 1] = model.layer(i, inputs[i], pass);
            }
        } finally {
            JniUtils.setGradMode(recording);
        }
        NDArray top = leaf(inputs[n]);
        NDArray loss = lossOfHidden.apply(model.finalNorm(top));
        double value = loss.getFloat();
        backward(loss, loss.getManager().full(new Shape(), (float) scale, loss.getDataType()), false);
        NDArray dy = top.getGradient();
        for (int i = n - 1; i >= 0; i--) {
            NDArray xi = leaf(inputs[i]);
            NDArray y = model.layer(i, xi, pass);
            backward(y, dy, false);
            y.close(); // the layer's output, its incoming gradient and the input above are done with
            dy.close();
            inputs[i + 1].close();
            dy = xi.getGradient();
        }
        backward(p.x(), dy, visual != null); // into the caller's graph (the projector)
        if (visual != null) {
            backward(visual, visualLeaf.getGradient(), false);
        }
        return value;
    }

    /** {@code a}, made by no-grad code (so a leaf already), now collecting its gradient. */
    private static NDArray leaf(NDArray a) {
        a.setRequiresGradient(true);
        return a;
    }

    private static void backward(NDArray target, NDArray gradient, boolean keepGraph) {
        JniUtils.backward((PtNDArray) target, (PtNDArray) gradient, keepGraph, false);
    }

    /** LM-head logits for hidden states [..., H] (e.g. only the positions a loss needs). */
    public NDArray logits(NDArray hidden) {
        return model.lmHead(hidden);
    }

    /** [B, 1, T, S]: 0 where query t may see key s (causal and not padding), the type's lowest value elsewhere. */
    private static NDArray additiveMask(NDArray mask, long t, long past, DataType type) {
        NDManager m = mask.getManager();
        long s = past + t;
        float[] causal = new float[(int) (t * s)];
        for (int q = 0; q < t; q++) {
            for (int k = 0; k <= past + q; k++) {
                causal[(int) (q * s + k)] = 1f;
            }
        }
        NDArray allowed = m.create(causal, new Shape(1, 1, t, s))
                .mul(mask.toType(DataType.FLOAT32, false).reshape(mask.getShape().get(0), 1, 1, s));
        // torch.finfo(type).min: -Float.MAX_VALUE would round to -inf in bf16 (and a fully masked row to NaN)
        float lowest = type == DataType.FLOAT16 ? -65504f : type == DataType.BFLOAT16 ? -3.3895314e38f
                : -Float.MAX_VALUE;
        NDArray additive = allowed.neg().add(1).mul(lowest);
        return type == DataType.FLOAT32 ? additive : additive.toType(type, false);
    }

    private void checkIds(NDArray ids) {
        if (ids.getDataType() != DataType.INT64 && ids.getDataType() != DataType.INT32) {
            throw new BadInputException("input ids must be int64, got " + ids.getDataType());
        }
        if (ids.size() > 0) {
            long max = ids.max().getLong();
            long min = ids.min().getLong();
            if (min < 0 || max >= config().vocabSize()) {
                throw new BadInputException("token id " + (min < 0 ? min : max) + " is outside the vocabulary (0.."
                        + (config().vocabSize() - 1) + ")");
            }
        }
    }

    /**
     * Batched generation from token ids: the rows decode together (see {@link Decoder}); each stops at a stop token
     * (kept in its output) or after {@code maxNewTokens}. Returns only the new tokens of each row.
     */
    public List<int[]> generate(List<int[]> prompts, GenerationOptions options) {
        try (Decoder d = decoder()) {
            int[] ids = d.add(prompts.stream().map(p -> Decoder.Sequence.ids(p, options)).toList());
            while (d.active() > 0) {
                d.step();
            }
            List<int[]> out = new ArrayList<>();
            for (int i : ids) {
                out.add(d.result(i));
            }
            return out;
        }
    }

    @Override
    public Decoder decoder() {
        return new TorchDecoder(this);
    }

    /** The attached adapter's arrays for a forward pass, or null. */
    LanguageAdapter.Weights attachedWeights() {
        return attached;
    }

    @Override
    public float[] logits(Prompt prompt) {
        try (NDManager m = weights.newSubManager()) {
            Spliced s = splice(m, prompt);
            LanguageAdapter.Weights ad = s.visual() == null ? null : attached.withVisual(s.visual());
            return forward(Input.embeds(s.embeds()).adapter(ad)).logits().toType(DataType.FLOAT32, false)
                    .toFloatArray();
        }
    }

    @Override
    public List<double[]> scoreContinuations(List<Prompt> prompts, List<List<int[]>> continuations) {
        try (NDManager m = weights.newSubManager()) {
            List<NDArray> embeds = new ArrayList<>();
            List<NDArray> visuals = new ArrayList<>();
            for (Prompt p : prompts) {
                Spliced s = splice(m, p);
                embeds.add(s.embeds());
                visuals.add(s.visual());
            }
            return scoreSpliced(embeds, visuals, continuations);
        }
    }

    /**
     * A prompt's input embeddings [1, P, H] in the model's type, and the global image feature [1, H] its slots give
     * the attached adaption prompts (LLaMA-Adapter's multimodal variant; null when there are none or no slots).
     */
    record Spliced(NDArray embeds, NDArray visual) {}

    Spliced splice(NDManager m, Prompt p) {
        int h = config().hiddenSize();
        p.placement(h); // checks the rows against the slots
        NDArray rows = p.slotEmbeddings() == null ? null
                : Precision.cast(m.create(p.slotEmbeddings(), new Shape(p.slotEmbeddings().length / h, h)), dtype);
        int[][] ids = {p.ids()};
        NDArray visual = rows != null && attached != null && attached.adapter().adaptionPrompt().isPresent()
                ? globalImageFeature(m, ids, rows) : null;
        return new Spliced(splice(m, ids, rows), visual);
    }

    /**
     * Input embeddings [B, T, H] for rows of ids ({@link Prompt#SLOT} marking embedding slots), taking the slots'
     * values from {@code slotRows} [K, H] in row-major order: the text embeddings with the rows placed between them.
     * Differentiable in {@code slotRows} (training the projector that made them). Arrays live in {@code m}.
     */
    public NDArray splice(NDManager m, int[][] rows, NDArray slotRows) {
        int b = rows.length;
        int t = rows[0].length;
        int h = config().hiddenSize();
        long[] ids = new long[b * t];
        long[] index = new long[b * t];
        int k = 0;
        for (int r = 0; r < b; r++) {
            if (rows[r].length != t) {
                throw new IllegalArgumentException("rows must be padded to one length");
            }
            for (int j = 0; j < t; j++) {
                int id = rows[r][j];
                ids[r * t + j] = id == Prompt.SLOT ? 0 : id;
                index[r * t + j] = id == Prompt.SLOT ? (long) b * t + k++ : (long) r * t + j;
            }
        }
        long have = slotRows == null ? 0 : slotRows.getShape().get(0);
        if (k != have) {
            throw new BadInputException("the prompt has " + k + " image slots but " + have + " image embeddings");
        }
        NDArray text = embed(m.create(ids, new Shape(b, t))).reshape((long) b * t, h);
        if (k == 0) {
            return text.reshape(b, t, h);
        }
        NDArray img = Precision.cast(slotRows, text.getDataType()); // keeps the graph when training
        return text.concat(img, 0).get(m.create(index)).reshape(b, t, h);
    }

    /**
     * Each row's global image feature [B, H]: the mean of its slot rows (zero for a row without slots; null when no
     * row has one), as LLaMA-Adapter adds a global visual feature to its adaption prompts. Differentiable in
     * {@code slotRows} [K, H], whose rows fill the slots of {@code rows} in row-major order.
     */
    public static NDArray globalImageFeature(NDManager m, int[][] rows, NDArray slotRows) {
        if (slotRows == null) {
            return null; // no row has an image: the prompts stay as trained, exactly as with zero features
        }
        int b = rows.length;
        int k = (int) slotRows.getShape().get(0);
        float[] avg = new float[b * k];
        int slot = 0;
        for (int r = 0; r < b; r++) {
            int first = slot;
            for (int id : rows[r]) {
                slot += id == Prompt.SLOT ? 1 : 0;
            }
            for (int j = first; j < slot; j++) {
                avg[r * k + j] = 1f / (slot - first);
            }
        }
        NDArray w = m.create(avg, new Shape(b, k));
        if (w.getDataType() != slotRows.getDataType()) {
            w = w.toType(slotRows.getDataType(), false);
        }
        return w.matMul(slotRows);
    }

    /**
     * Scores the continuations of several prompts in one batch ({@link ContinuationBatch}: the prompts [1, P_i, H]
     * left-padded and run together once, then every continuation over its prompt's cache row). {@code visuals} holds
     * each prompt's global image feature [1, H] or null.
     */
    private List<double[]> scoreSpliced(List<NDArray> promptEmbeds, List<NDArray> visuals,
                                        List<List<int[]>> continuations) {
        if (visuals.size() != promptEmbeds.size() || continuations.size() != promptEmbeds.size()) {
            throw new IllegalArgumentException("one visual (or null) and one list of continuations per prompt");
        }
        ContinuationBatch batch = new ContinuationBatch(continuations);
        int[] lengths = new int[promptEmbeds.size()];
        for (int i = 0; i < lengths.length; i++) {
            if (promptEmbeds.get(i).getShape().get(0) != 1) {
                throw new IllegalArgumentException("each prompt's embeddings must be [1, P, H]");
            }
            lengths[i] = (int) promptEmbeds.get(i).getShape().get(1);
        }
        try (NDManager m = weights.newSubManager(); KvCache cache = newCache(m)) {
            return batch.score(lengths, new ContinuationBatch.Passes() {
                @Override
                public float[] prompts(ContinuationBatch.PromptLayout p, int[] rowOf, int[] first) {
                    Output o = forward(Input.embeds(leftPad(m, promptEmbeds, p))
                            .attentionMask(m.create(p.mask(), new Shape(p.rows(), p.width())))
                            .positionIds(m.create(p.positions(), new Shape(p.rows(), p.width())))
                            .cache(cache).adapter(batchVisual(m, visuals, null)).lastTokenLogitsOnly());
                    float[] lp = o.logits().toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
                    int v = config().vocabSize();
                    float[] out = new float[rowOf.length];
                    for (int t = 0; t < out.length; t++) {
                        out[t] = lp[rowOf[t] * v + first[t]];
                    }
                    return out;
                }

                @Override
                public float[] continuations(ContinuationBatch.ContinuationLayout c) {
                    cache.select(m.create(c.rows()));
                    Output o = forward(Input.ids(m.create(c.ids(), new Shape(c.total(), c.fed())))
                            .attentionMask(m.create(c.mask(), new Shape(c.total(), c.width() + c.fed())))
                            .positionIds(m.create(c.positions(), new Shape(c.total(), c.fed()))).cache(cache)
                            .adapter(batchVisual(m, visuals, batch.rowOf)));
                    NDArray lp = o.logits().toType(DataType.FLOAT32, false).logSoftmax(-1); // [total, fed, V]
                    return lp.gather(m.create(c.targets(), new Shape(c.total(), c.fed(), 1)), 2).toFloatArray();
                }
            });
        }
    }

    /** Prompts [1, P_i, H] in the model's type, left-padded with zeros to the layout's width: [n, P, H]. */
    private NDArray leftPad(NDManager m, List<NDArray> promptEmbeds, ContinuationBatch.PromptLayout p) {
        NDList rows = new NDList();
        for (int i = 0; i < p.rows(); i++) {
            NDArray e = promptEmbeds.get(i).duplicate();
            e.attach(m);
            e = e.toType(dtype, false);
            if (p.pad(i) > 0) {
                e = m.zeros(new Shape(1, p.pad(i), e.getShape().get(2)), dtype).concat(e, 1);
            }
            rows.add(e);
        }
        return rows.size() == 1 ? rows.get(0) : NDArrays.concat(rows, 0);
    }

    /** The attached adapter with per-row visual features ({@code rows} maps batch rows to prompts), or null. */
    private LanguageAdapter.Weights batchVisual(NDManager m, List<NDArray> visuals, int[] rows) {
        LanguageAdapter.Weights a = attached;
        if (a == null || visuals.stream().allMatch(java.util.Objects::isNull)) {
            return null;
        }
        int h = config().hiddenSize();
        NDList v = new NDList();
        int count = rows == null ? visuals.size() : rows.length;
        for (int r = 0; r < count; r++) {
            NDArray x = visuals.get(rows == null ? r : rows[r]);
            NDArray y = x == null ? m.zeros(new Shape(1, h), dtype) : x.duplicate();
            y.attach(m);
            v.add(y.toType(dtype, false).reshape(1, h));
        }
        return a.withVisual(v.size() == 1 ? v.get(0) : NDArrays.concat(v, 0));
    }

    static long[] toLongs(int[] a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            l[i] = a[i];
        }
        return l;
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        weights.close();
    }
}
