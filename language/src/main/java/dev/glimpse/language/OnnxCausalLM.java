package dev.glimpse.language;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.OnnxThreads;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.HashMap;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A frozen Llama-family LM run by ONNX Runtime: the inference engine beside DJL (which training keeps, for its
 * autograd). The checkpoint is written once as an ONNX decoder graph ({@link OnnxLlamaGraph}) in the chosen
 * {@link WeightFormat}, cached under a key made of the checkpoint's fingerprint and the options, and decoded with
 * its KV cache.
 *
 * <pre>{@code
 * try (OnnxCausalLM lm = OnnxCausalLM.builder(Path.of("models/qwen2.5-0.5b")).weights(WeightFormat.INT4).build()) {
 *     int[] out = lm.generate(prompt, GenerationOptions.greedy(64));
 * }
 * }</pre>
 */
public final class OnnxCausalLM implements LanguageModel {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxCausalLM.class);

    private final LanguageModelConfig config;
    private final GenerationConfig generation;
    private final Tokenizer tokenizer;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final Path modelDir;
    private final String provider;
    private final boolean rowsApart;

    private OnnxCausalLM(LanguageModelConfig config, GenerationConfig generation, Tokenizer tokenizer,
                         OrtEnvironment env, OrtSession session, Path modelDir, String provider, boolean rowsApart) {
        this.config = config;
        this.generation = generation;
        this.tokenizer = tokenizer;
        this.env = env;
        this.session = session;
        this.modelDir = modelDir;
        this.provider = provider;
        this.rowsApart = rowsApart;
    }

    /**
     * Whether decode steps of several sequences are faster one sequence at a time: quantized weights with fp32
     * activations on the CPU, where ONNX Runtime 1.29's MatMulNBits has a fast kernel for one row and, for more,
     * dequantizes the whole matrix on every call (int8 at Qwen2.5-0.5B shapes: 18.7 tokens/s for one sequence,
     * 7.9 in all for four in one batch).
     */
    boolean decodesRowsApart() {
        return rowsApart;
    }

    /** The fp32 model of the checkpoint in {@code dir}, on the CPU, built in the default cache. */
    public static OnnxCausalLM load(Path dir) {
        return builder(dir).build();
    }

    /** Settings for the checkpoint directory {@code dir} (config.json, safetensors, optional tokenizer). */
    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    @Override
    public LanguageModelConfig config() {
        return config;
    }

    @Override
    public GenerationConfig generationConfig() {
        return generation;
    }

    @Override
    public InferenceEngine engine() {
        return InferenceEngine.ONNX;
    }

    @Override
    public ai.djl.Device device() {
        return provider.equals("cuda") ? ai.djl.Device.gpu() : ai.djl.Device.cpu();
    }

    /** fp32: the graph's activations, whatever its weight format. */
    @Override
    public ai.djl.ndarray.types.DataType dataType() {
        return ai.djl.ndarray.types.DataType.FLOAT32;
    }

    @Override
    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** The folder holding the built model.onnx (its external data and build.json beside it). */
    public Path modelDir() {
        return modelDir;
    }

    /** Bytes of the built model: model.onnx and its external data. */
    public long modelBytes() {
        return OnnxModelCache.modelBytes(modelDir);
    }

    /** The execution provider in use: "cpu" or "cuda". */
    public String provider() {
        return provider;
    }

    /**
     * A prompt as the graph takes it: ids (below 0 in slots) and, when it has slots, embeddings [T, H] holding each
     * slot's row at its position.
     */
    record Placed(long[] ids, float[] embeds) {}

    Placed place(Prompt p) {
        int h = config.hiddenSize();
        int[] row = p.placement(h);
        long[] ids = new long[p.length()];
        float[] embeds = p.slotEmbeddings() == null ? null : new float[p.length() * h];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = p.ids()[i];
            if (row[i] >= 0) {
                System.arraycopy(p.slotEmbeddings(), row[i] * h, embeds, i * h, h);
            }
        }
        return new Placed(ids, embeds);
    }

    @Override
    public float[] logits(Prompt prompt) {
        Placed p = place(prompt);
        checkPrompt(p.ids(), p.embeds(), 0);
        return OnnxThreads.call(() -> {
            try (Step s = forward(null, p.ids(), p.embeds(), 1, p.ids().length, p.ids().length)) {
                return s.logits;
            }
        });
    }

    /** The batched algorithm both engines run ({@link ContinuationBatch}), over ONNX Runtime's present tensors. */
    @Override
    public List<double[]> scoreContinuations(List<Prompt> prompts, List<List<int[]>> continuations) {
        if (continuations.size() != prompts.size()) {
            throw new IllegalArgumentException("one list of continuations per prompt");
        }
        ContinuationBatch batch = new ContinuationBatch(continuations);
        List<Placed> placed = new ArrayList<>();
        int[] lengths = new int[prompts.size()];
        for (int i = 0; i < lengths.length; i++) {
            Placed p = place(prompts.get(i));
            checkPrompt(p.ids(), p.embeds(), batch.longest);
            placed.add(p);
            lengths[i] = p.ids().length;
        }
        return OnnxThreads.call(() -> {
            Step[] cache = {null};
            try {
                return batch.score(lengths, new ContinuationBatch.Passes() {
                    @Override
                    public float[] prompts(ContinuationBatch.PromptLayout p, int[] rowOf, int[] first) {
                        cache[0] = run(() -> prefill(placed, p));
                        float[] out = new float[rowOf.length];
                        for (int t = 0; t < out.length; t++) {
                            out[t] = logProb(cache[0].logits, rowOf[t], first[t]);
                        }
                        return out;
                    }

                    @Override
                    public float[] continuations(ContinuationBatch.ContinuationLayout c) {
                        return run(() -> {
                            try (Step rows = select(cache[0], c.rows());
                                 Step s = forward(rows, c.ids(), null, c.mask(), c.positions(), c.total(), c.fed(),
                                         c.fed())) {
                                float[] out = new float[c.total() * c.fed()];
                                for (int i = 0; i < out.length; i++) {
                                    out[i] = logProb(s.logits, i, (int) c.targets()[i]);
                                }
                                return out;
                            }
                        });
                    }
                });
            } finally {
                if (cache[0] != null) {
                    cache[0].close();
                }
            }
        });
    }

    /** The prompts left-padded as laid out (padding: token 0, masked), run once; their cache and last logits. */
    private Step prefill(List<Placed> placed, ContinuationBatch.PromptLayout p) throws OrtException {
        int h = config.hiddenSize();
        int w = p.width();
        long[] ids = new long[p.rows() * w];
        boolean slots = placed.stream().anyMatch(x -> x.embeds() != null);
        float[] embeds = slots ? new float[p.rows() * w * h] : null;
        for (int i = 0; i < p.rows(); i++) {
            Placed x = placed.get(i);
            System.arraycopy(x.ids(), 0, ids, i * w + p.pad(i), x.ids().length);
            if (x.embeds() != null) {
                System.arraycopy(x.embeds(), 0, embeds, (i * w + p.pad(i)) * h, x.embeds().length);
            }
        }
        return forward(null, ids, embeds, p.mask(), p.positions(), p.rows(), w, 1);
    }

    /** log p(token) at position {@code row} of logits [rows, V]. */
    private float logProb(float[] logits, int row, int token) {
        int v = config.vocabSize();
        return (float) (logits[row * v + token] - Logits.logNormalizer(logits, row * v, v));
    }

    /** A cache of the given rows of {@code from}'s (repeated as listed), owned by the new step. */
    private Step select(Step from, long[] rows) throws OrtException {
        int kv = config.numKeyValueHeads();
        int hd = config.headDim();
        int row = kv * from.length * hd;
        Map<String, OnnxTensor> picked = new HashMap<>();
        try {
            for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
                for (String kind : new String[] {"key", "value"}) {
                    FloatBuffer src = from.present(layer, kind).getFloatBuffer();
                    float[] dst = new float[rows.length * row];
                    for (int t = 0; t < rows.length; t++) {
                        src.get((int) rows[t] * row, dst, t * row, row);
                    }
                    picked.put("present." + layer + "." + kind, OnnxTensor.createTensor(env, FloatBuffer.wrap(dst),
                            new long[] {rows.length, kv, from.length, hd}));
                }
            }
        } catch (OrtException | RuntimeException e) {
            picked.values().forEach(OnnxTensor::close);
            throw e;
        }
        return new Step(picked, from.length);
    }

    /** Runs ONNX Runtime work, its checked exception as Glimpse's. */
    private static <T> T run(OrtWork<T> work) {
        try {
            return work.call();
        } catch (OrtException e) {
            throw new GlimpseException("ONNX scoring failed: " + e.getMessage(), e);
        }
    }

    @FunctionalInterface
    private interface OrtWork<T> {
        T call() throws OrtException;
    }

    void checkPrompt(long[] ids, float[] embeds, int newTokens) {
        if (ids.length == 0) {
            throw new BadInputException("an empty prompt cannot be continued: give at least one token (e.g. BOS)");
        }
        if (ids.length + newTokens > config.maxPositionEmbeddings()) {
            throw new BadInputException("prompt of " + ids.length + " tokens + " + newTokens
                    + " new tokens exceeds max_position_embeddings (" + config.maxPositionEmbeddings() + ")");
        }
        boolean spliced = false;
        for (long id : ids) {
            if (id >= config.vocabSize()) {
                throw new BadInputException("token id " + id + " is outside the vocabulary (" + config.vocabSize()
                        + ")");
            }
            spliced |= id < 0;
        }
        if (spliced && (embeds == null || embeds.length != (long) ids.length * config.hiddenSize())) {
            throw new BadInputException("prompt ids below 0 take their embedding from inputs_embeds, which must hold "
                    + ids.length + "×" + config.hiddenSize() + " values, got "
                    + (embeds == null ? "none" : embeds.length));
        }
    }

    /**
     * One run of the graph: the logits [b, keep, V] of {@code t} new tokens per row after {@code past} (null: none),
     * with its present keys and values, which the next step takes as its past. Rows are unpadded here (the mask is
     * all ones). Call on an {@link OnnxThreads} thread; close the step when its cache is no longer needed.
     */
    Step forward(Step past, long[] ids, float[] embeds, int b, int t, int keep) throws OrtException {
        return forward(past, ids, embeds, null, null, b, t, keep);
    }

    /** As {@link #forward(Step, long[], float[], int, int, int)} with an explicit mask [b, P + t] and positions. */
    Step forward(Step past, long[] ids, float[] embeds, long[] mask, long[] positions, int b, int t, int keep)
            throws OrtException {
        int p = past == null ? 0 : past.length;
        int h = config.hiddenSize();
        if (mask == null) {
            mask = new long[b * (p + t)];
            Arrays.fill(mask, 1);
        }
        if (positions == null) {
            positions = new long[b * t];
            for (int i = 0; i < positions.length; i++) {
                positions[i] = p + i % t;
            }
        }
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            Map<String, OnnxTensor> in = new HashMap<>();
            in.put("input_ids", own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {b, t})));
            in.put("inputs_embeds", own(owned, embeds == null
                    ? OnnxTensor.createTensor(env, FloatBuffer.allocate(h), new long[] {1, 1, h})
                    : OnnxTensor.createTensor(env, FloatBuffer.wrap(embeds), new long[] {b, t, h})));
            in.put("attention_mask", own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(mask),
                    new long[] {b, p + t})));
            in.put("position_ids", own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(positions),
                    new long[] {b, t})));
            in.put("logits_to_keep", own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {keep}),
                    new long[] {1})));
            for (int i = 0; i < config.numHiddenLayers(); i++) {
                for (String kind : new String[] {"key", "value"}) {
                    OnnxTensor kv = past == null
                            ? own(owned, OnnxTensor.createTensor(env, FloatBuffer.allocate(0),
                                    new long[] {b, config.numKeyValueHeads(), 0, config.headDim()}))
                            : past.present(i, kind);
                    in.put("past_key_values." + i + "." + kind, kv);
                }
            }
            OrtSession.Result r = session.run(in);
            FloatBuffer fb = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
            float[] logits = new float[fb.remaining()];
            fb.get(logits);
            return new Step(r, logits, p + t);
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor own(List<OnnxTensor> owned, OnnxTensor t) {
        owned.add(t);
        return t;
    }

    /**
     * The logits of one run and the KV cache it leaves: ONNX Runtime's present tensors, used as they are, or
     * tensors a caller assembled (a batch re-packed by {@link OnnxDecoder}), owned by the step.
     */
    static final class Step implements AutoCloseable {
        final OrtSession.Result result;
        final float[] logits;
        final int length;
        private final Map<String, OnnxTensor> owned;

        Step(OrtSession.Result result, float[] logits, int length) {
            this.result = result;
            this.logits = logits;
            this.length = length;
            this.owned = null;
        }

        /** A cache of {@code length} positions from tensors named present.N.key|value, which the step closes. */
        Step(Map<String, OnnxTensor> presents, int length) {
            this.result = null;
            this.logits = null;
            this.length = length;
            this.owned = presents;
        }

        OnnxTensor present(int layer, String kind) {
            String name = "present." + layer + "." + kind;
            return owned != null ? owned.get(name) : (OnnxTensor) result.get(name).orElseThrow();
        }

        @Override
        public void close() {
            if (result != null) {
                result.close();
            } else {
                owned.values().forEach(OnnxTensor::close);
            }
        }
    }

    @Override
    public Decoder decoder() {
        return new OnnxDecoder(this);
    }

    OrtEnvironment env() {
        return env;
    }

    @Override
    public void close() {
        OnnxThreads.call(() -> {
            session.close();
            return null;
        });
    }

    /** Where the checkpoint is, how to build it and where to run it. */
    public static final class Builder {
        private final Path dir;
        private Path checkpoint;
        private LanguageModelConfig config;
        private String prefix = "model.";
        private String headKey = "lm_head.weight";
        private LanguageAdapter lora;
        private Path loraDir;
        private WeightFormat weights = WeightFormat.FP32;
        private Integer blockSize;
        private Integer accuracyLevel;
        private int threads;
        private boolean gpu;
        private Path cacheDir;

        private Builder(Path dir) {
            this.dir = dir;
        }

        /** The weight format to build (default fp32). */
        public Builder weights(WeightFormat w) {
            this.weights = w;
            return this;
        }

        /** MatMulNBits' block size along K for int8 / int4 (a power of two ≥ 16; default 32). */
        public Builder blockSize(int n) {
            this.blockSize = n;
            return this;
        }

        /**
         * MatMulNBits' accuracy level for int8 / int4 weights: 4 quantizes activations to int8 for integer dot
         * products, the fastest path on CPUs; 1 keeps activations fp32. Default: 1 for int8 (the format chosen for
         * accuracy: DJL's option on 399 of 400 demo questions, against 395 at level 4; 8-bit weights then run as
         * two 4-bit halves, see {@link BlockQuantizer}), 4 for int4 (the format chosen for speed). At Qwen2.5-0.5B
         * shapes on 2 cores int8 decodes 1.5× faster at level 4 than at 1 (30.5 against 19.7 tokens/s).
         */
        public Builder accuracyLevel(int level) {
            this.accuracyLevel = level;
            return this;
        }

        /** ONNX Runtime's intra-op threads; 0 (default) lets it choose (one per physical core). */
        public Builder threads(int n) {
            this.threads = n;
            return this;
        }

        /** Runs on CUDA when the gpu build of ONNX Runtime and a GPU are present; else says so and uses the CPU. */
        public Builder gpu(boolean useGpu) {
            this.gpu = useGpu;
            return this;
        }

        /** Where built models are kept (default: glimpse.onnx.cache, else $XDG_CACHE_HOME or ~/.cache /glimpse/onnx). */
        public Builder cacheDir(Path dir) {
            this.cacheDir = dir;
            return this;
        }

        /**
         * The LM inside a bigger checkpoint (a LLaVA one): its config, the safetensors location, and the key prefix
         * and head of its tensors.
         */
        public Builder part(LanguageModelConfig c, Path checkpointLocation, String keyPrefix, String head) {
            this.config = c;
            this.checkpoint = checkpointLocation;
            this.prefix = keyPrefix;
            this.headKey = head;
            return this;
        }

        /** A LoRA adapter (saved in {@code adapterDir}) merged into the weights before they are written. */
        public Builder mergeLora(LanguageAdapter adapter, Path adapterDir) {
            if (adapter.adaptionPrompt().isPresent()) {
                throw new BadInputException("adaption prompts (LLaMA-Adapter) change attention and cannot be merged"
                        + " into the weights: use the DJL engine for this adapter");
            }
            this.lora = adapter.lora().isPresent() ? adapter : null;
            this.loraDir = adapterDir;
            return this;
        }

        public OnnxCausalLM build() {
            LanguageModelConfig c = config != null ? config : LanguageModelConfig.read(dir);
            Path ckptLocation = checkpoint != null ? checkpoint : dir;
            if (blockSize != null && (blockSize < 16 || Integer.bitCount(blockSize) != 1)) {
                throw new BadInputException("block size must be a power of two ≥ 16, not " + blockSize);
            }
            if (accuracyLevel != null && weights.bits() == 0) {
                throw new BadInputException("an accuracy level applies to int8 / int4 weights, not " + weights);
            }
            int level = accuracyLevel != null ? accuracyLevel : (weights == WeightFormat.INT8 ? 1 : 4);
            if (level != 1 && level != 4) {
                throw new BadInputException("accuracy level is 1 (fp32 activations) or 4 (int8 activations), not "
                        + level);
            }
            int block = blockSize != null ? blockSize : 32;
            OnnxModelCache.Source src = new OnnxModelCache.Source(c, ckptLocation, prefix, headKey, lora, loraDir,
                    new OnnxLlamaGraph.Options(weights, block, level));
            Path built = new OnnxModelCache(cacheDir).get(dir.toAbsolutePath().normalize().getFileName().toString(),
                    src);
            Tokenizer tok = Files.isRegularFile(dir.resolve("tokenizer.json")) ? Tokenizer.load(dir) : null;
            GenerationConfig gen = GenerationConfig.read(dir);
            return OnnxThreads.call(() -> {
                OrtEnvironment env = OrtEnvironment.getEnvironment();
                OrtSession.SessionOptions so = new OrtSession.SessionOptions();
                if (threads > 0) {
                    so.setIntraOpNumThreads(threads);
                }
                String profile = System.getProperty("glimpse.onnx.profile");
                if (profile != null && !profile.isBlank()) {
                    so.enableProfiling(profile); // ONNX Runtime's per-node timings, for benchmarks
                }
                String provider = "cpu";
                if (gpu) {
                    try {
                        so.addCUDA(0);
                        provider = "cuda";
                    } catch (OrtException | RuntimeException e) {
                        LOG.warn("CUDA is not available to ONNX Runtime ({}); running on the CPU. Build with -Pgpu "
                                + "(onnxruntime_gpu) on a machine with CUDA 12 and cuDNN 9 to use the GPU", e.getMessage());
                    }
                }
                OrtSession s = env.createSession(built.resolve("model.onnx").toString(), so);
                return new OnnxCausalLM(c, gen, tok, env, s, built, provider,
                        weights.bits() > 0 && level == 1 && provider.equals("cpu"));
            });
        }
    }
}
