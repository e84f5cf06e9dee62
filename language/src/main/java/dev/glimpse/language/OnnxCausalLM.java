package dev.glimpse.language;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.LanguageModelConfig;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A frozen Llama-family LM run by ONNX Runtime instead of DJL: the checkpoint is written as an ONNX graph
 * ({@link OnnxLlamaGraph}) and decoded with its KV cache. fp32 for now, one prompt of token ids at a time: the first
 * piece of the inference engine of issue #13, held to the DJL model token for token.
 */
public final class OnnxCausalLM implements AutoCloseable {
    /** ONNX Runtime's native calls want big stacks (see OnnxVisionTower): every call runs on this thread. */
    private static final ExecutorService NATIVE = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(null, r, "glimpse-onnx-llm", 64L << 20);
        t.setDaemon(true);
        return t;
    });

    private final LanguageModelConfig config;
    private final GenerationConfig generation;
    private final OrtEnvironment env;
    private final OrtSession session;

    private OnnxCausalLM(LanguageModelConfig config, GenerationConfig generation, OrtSession session,
                         OrtEnvironment env) {
        this.config = config;
        this.generation = generation;
        this.session = session;
        this.env = env;
    }

    /** Builds the graph of the checkpoint in {@code dir} and opens it (fp32, CPU). */
    public static OnnxCausalLM load(Path dir) {
        LanguageModelConfig c = LanguageModelConfig.read(dir);
        byte[] model;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            model = OnnxLlamaGraph.build(c, ckpt, "model.", "lm_head.weight");
        }
        return native_(() -> {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            return new OnnxCausalLM(c, GenerationConfig.read(dir), env.createSession(model,
                    new OrtSession.SessionOptions()), env);
        });
    }

    public LanguageModelConfig config() {
        return config;
    }

    /** Generates after {@code prompt}; returns only the new tokens (a stop token is kept, as CausalLM does). */
    public int[] generate(int[] prompt, GenerationOptions options) {
        if (prompt.length == 0) {
            throw new BadInputException("an empty prompt cannot be continued: give at least one token (e.g. BOS)");
        }
        if (prompt.length + options.maxNewTokens() > config.maxPositionEmbeddings()) {
            throw new BadInputException("prompt of " + prompt.length + " tokens + " + options.maxNewTokens()
                    + " new tokens exceeds max_position_embeddings (" + config.maxPositionEmbeddings() + ")");
        }
        Set<Integer> stops = new LinkedHashSet<>(options.stopTokens());
        if (options.useModelStopTokens()) {
            stops.addAll(generation.eosTokenIds());
            stops.addAll(config.eosTokenIds());
        }
        return native_(() -> decode(prompt, options, stops));
    }

    private int[] decode(int[] prompt, GenerationOptions options, Set<Integer> stops) throws OrtException {
        int v = config.vocabSize();
        Random random = new Random(options.seed());
        List<Integer> out = new ArrayList<>();
        Map<String, OnnxTensor> past = new HashMap<>();
        try {
            for (int i = 0; i < config.numHiddenLayers(); i++) {
                for (String kind : new String[] {"key", "value"}) {
                    past.put("past_key_values." + i + "." + kind, OnnxTensor.createTensor(env, FloatBuffer.allocate(0),
                            new long[] {1, config.numKeyValueHeads(), 0, config.headDim()}));
                }
            }
            long[] ids = new long[prompt.length];
            long[] pos = new long[prompt.length];
            for (int i = 0; i < prompt.length; i++) {
                ids[i] = prompt[i];
                pos[i] = i;
            }
            int seen = 0;
            for (int step = 0; step < options.maxNewTokens(); step++) {
                long[] mask = new long[seen + ids.length];
                java.util.Arrays.fill(mask, 1);
                Map<String, OnnxTensor> in = new HashMap<>(past);
                float[] last = new float[v];
                try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
                     OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, mask.length});
                     OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {1, pos.length});
                     OrtSession.Result r = in(in, a, m, p)) {
                    FloatBuffer logits = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
                    logits.position((ids.length - 1) * v);
                    logits.get(last);
                    past.values().forEach(OnnxTensor::close);
                    past.clear();
                    for (int i = 0; i < config.numHiddenLayers(); i++) {
                        for (String kind : new String[] {"key", "value"}) {
                            OnnxTensor present = (OnnxTensor) r.get("present." + i + "." + kind).orElseThrow();
                            past.put("past_key_values." + i + "." + kind, OnnxTensor.createTensor(env,
                                    present.getFloatBuffer(), present.getInfo().getShape()));
                        }
                    }
                }
                seen += ids.length;
                int tok = options.doSample() ? Sampler.sample(last, 0, v, options, random) : Sampler.argmax(last, 0, v);
                out.add(tok);
                if (stops.contains(tok)) {
                    break;
                }
                ids = new long[] {tok};
                pos = new long[] {seen};
            }
        } finally {
            past.values().forEach(OnnxTensor::close);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private OrtSession.Result in(Map<String, OnnxTensor> in, OnnxTensor ids, OnnxTensor mask, OnnxTensor pos)
            throws OrtException {
        in.put("input_ids", ids);
        in.put("attention_mask", mask);
        in.put("position_ids", pos);
        return session.run(in);
    }

    private static <T> T native_(Callable<T> work) {
        try {
            return NATIVE.submit(work).get();
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new GlimpseException("ONNX Runtime failed: " + c.getMessage(), c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GlimpseException("interrupted");
        }
    }

    @Override
    public void close() {
        native_(() -> {
            session.close();
            return null;
        });
    }
}
