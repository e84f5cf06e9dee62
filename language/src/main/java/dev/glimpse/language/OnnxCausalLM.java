package dev.glimpse.language;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.OnnxThreads;
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

/**
 * A frozen Llama-family LM run by ONNX Runtime instead of DJL: the checkpoint is written as an ONNX graph
 * ({@link OnnxLlamaGraph}) and decoded with its KV cache. fp32 for now, one prompt of token ids at a time: the first
 * piece of the inference engine of issue #13, held to the DJL model token for token.
 */
public final class OnnxCausalLM implements AutoCloseable {
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
        return OnnxThreads.call(() -> {
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
        return OnnxThreads.call(() -> decode(prompt, options, stops));
    }

    private int[] decode(int[] prompt, GenerationOptions options, Set<Integer> stops) throws OrtException {
        int v = config.vocabSize();
        Random random = new Random(options.seed());
        List<Integer> out = new ArrayList<>();
        Map<String, OnnxTensor> past = new HashMap<>();
        List<OnnxTensor> empty = new ArrayList<>();
        OrtSession.Result previous = null; // its present keys and values are the next step's past: no copies
        try {
            for (int i = 0; i < config.numHiddenLayers(); i++) {
                for (String kind : new String[] {"key", "value"}) {
                    OnnxTensor e = OnnxTensor.createTensor(env, FloatBuffer.allocate(0),
                            new long[] {1, config.numKeyValueHeads(), 0, config.headDim()});
                    empty.add(e);
                    past.put("past_key_values." + i + "." + kind, e);
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
                OrtSession.Result r;
                try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
                     OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, mask.length});
                     OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {1, pos.length})) {
                    r = in(in, a, m, p);
                }
                if (previous != null) {
                    previous.close();
                }
                previous = r;
                FloatBuffer logits = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
                logits.position((ids.length - 1) * v);
                logits.get(last);
                past.clear();
                for (int i = 0; i < config.numHiddenLayers(); i++) {
                    for (String kind : new String[] {"key", "value"}) {
                        past.put("past_key_values." + i + "." + kind,
                                (OnnxTensor) r.get("present." + i + "." + kind).orElseThrow());
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
            if (previous != null) {
                previous.close();
            }
            empty.forEach(OnnxTensor::close);
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

    @Override
    public void close() {
        OnnxThreads.call(() -> {
            session.close();
            return null;
        });
    }
}
