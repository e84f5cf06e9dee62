package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.OnnxThreads;
import dev.glimpse.core.TestData;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder written as an ONNX graph and run by ONNX Runtime gives the logits of the DJL model (itself held to
 * transformers' by LanguageParityTest) on every fixture family, with left padding, whole and step by step through
 * its KV cache: ≤ 1e-4 max-abs on fp32 logits.
 */
class OnnxLlamaGraphTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama3-rope", "tiny-qwen2", "tiny-qwen3"})
    void logitsEqualTheDjlModelWithLeftPadding(String fixture) throws Exception {
        Path dir = TestData.fixture(fixture);
        LanguageModelConfig c = LanguageModelConfig.read(dir);
        byte[] model;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            model = OnnxLlamaGraph.build(c, ckpt, "model.", "lm_head.weight");
        }
        // two rows: 7 tokens, and 4 tokens left-padded to 7
        int b = 2;
        int t = 7;
        long[] ids = {5, 17, 99, 3, 250, 41, 8, 0, 0, 0, 12, 200, 7, 61};
        long[] mask = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1};
        long[] pos = {0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 1, 2, 3};
        // the whole prompt at once (empty past), and the same as a prefill of 5 then two steps through the cache
        float[] onnx = OnnxThreads.call(() -> run(c, model, ids, mask, pos, b, 0, t));
        float[] stepped = OnnxThreads.call(() -> run(c, model, ids, mask, pos, b, 5, t));
        float[] djl;
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32);
             NDManager m = lm.manager().newSubManager()) {
            djl = lm.forward(CausalLM.Input.ids(m.create(ids, new Shape(b, t))).attentionMask(m.create(mask,
                    new Shape(b, t))).positionIds(m.create(pos, new Shape(b, t)))).logits().toFloatArray();
        }
        double worst = 0;
        double worstCached = 0;
        for (int i = 0; i < b * t; i++) {
            if (mask[i] == 0) {
                continue; // padding positions have no defined logits
            }
            for (int v = 0; v < c.vocabSize(); v++) {
                worst = Math.max(worst, Math.abs(onnx[i * c.vocabSize() + v] - djl[i * c.vocabSize() + v]));
                worstCached = Math.max(worstCached, Math.abs(stepped[i * c.vocabSize() + v]
                        - djl[i * c.vocabSize() + v]));
            }
        }
        System.out.printf("%s: ONNX vs DJL logits max abs %.2e, through the KV cache %.2e%n", fixture, worst,
                worstCached);
        assertTrue(worst <= 1e-4, fixture + ": max abs difference " + worst);
        assertTrue(worstCached <= 1e-4, fixture + ": through the KV cache, max abs difference " + worstCached);
    }

    /**
     * Logits [B, T, V] of the rows: the first {@code prefill} tokens at once (all when 0), then one token at a time,
     * each step feeding the previous step's present keys and values back as the past.
     */
    static float[] run(LanguageModelConfig c, byte[] model, long[] ids, long[] mask, long[] pos, int b, int prefill,
                       int t) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        int v = c.vocabSize();
        float[] logits = new float[b * t * v];
        int first = prefill == 0 ? t : prefill;
        try (OrtSession s = env.createSession(model, new OrtSession.SessionOptions())) {
            java.util.Map<String, OnnxTensor> past = new java.util.HashMap<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                for (String kind : new String[] {"key", "value"}) {
                    past.put("past_key_values." + i + "." + kind, OnnxTensor.createTensor(env,
                            java.nio.FloatBuffer.allocate(0), new long[] {b, c.numKeyValueHeads(), 0, c.headDim()}));
                }
            }
            int done = 0;
            while (done < t) {
                int n = done == 0 ? first : 1;
                long[] stepIds = new long[b * n];
                long[] stepPos = new long[b * n];
                long[] stepMask = new long[b * (done + n)];
                for (int r = 0; r < b; r++) {
                    for (int j = 0; j < n; j++) {
                        stepIds[r * n + j] = ids[r * t + done + j];
                        stepPos[r * n + j] = pos[r * t + done + j];
                    }
                    System.arraycopy(mask, r * t, stepMask, r * (done + n), done + n);
                }
                java.util.Map<String, OnnxTensor> in = new java.util.HashMap<>(past);
                try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(stepIds), new long[] {b, n});
                     OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(stepMask), new long[] {b, done + n});
                     OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(stepPos), new long[] {b, n})) {
                    in.put("input_ids", a);
                    in.put("attention_mask", m);
                    in.put("position_ids", p);
                    OrtSession.Result r = s.run(in);
                    float[] out = new float[b * n * v];
                    ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer().get(out);
                    for (int row = 0; row < b; row++) {
                        System.arraycopy(out, row * n * v, logits, (row * t + done) * v, n * v);
                    }
                    past.values().forEach(OnnxTensor::close);
                    past.clear();
                    for (int i = 0; i < c.numHiddenLayers(); i++) {
                        for (String kind : new String[] {"key", "value"}) {
                            OnnxTensor present = (OnnxTensor) r.get("present." + i + "." + kind).orElseThrow();
                            java.nio.FloatBuffer fb = present.getFloatBuffer();
                            past.put("past_key_values." + i + "." + kind, OnnxTensor.createTensor(env, fb,
                                    present.getInfo().getShape()));
                        }
                    }
                    r.close();
                }
                done += n;
            }
            past.values().forEach(OnnxTensor::close);
        }
        return logits;
    }
}
