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
import dev.glimpse.core.TestData;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder written as an ONNX graph and run by ONNX Runtime gives the logits of the DJL model (itself held to
 * transformers' by LanguageParityTest) on every fixture family, with left padding: ≤ 1e-4 max-abs on fp32 logits.
 */
class OnnxLlamaGraphTest {
    static final ExecutorService NATIVE = Executors.newSingleThreadExecutor(r -> new Thread(null, r, "ort", 64L << 20));

    @AfterAll
    static void stop() {
        NATIVE.shutdown();
    }

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
        float[] onnx = NATIVE.submit(() -> {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession s = env.createSession(model, new OrtSession.SessionOptions());
                 OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {b, t});
                 OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {b, t});
                 OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {b, t});
                 OrtSession.Result r = s.run(Map.of("input_ids", a, "attention_mask", m, "position_ids", p))) {
                OnnxTensor o = (OnnxTensor) r.get(0);
                assertArrayEquals(new long[] {b, t, c.vocabSize()}, o.getInfo().getShape());
                float[] out = new float[b * t * c.vocabSize()];
                o.getFloatBuffer().get(out);
                return out;
            }
        }).get();
        float[] djl;
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32);
             NDManager m = lm.manager().newSubManager()) {
            djl = lm.forward(CausalLM.Input.ids(m.create(ids, new Shape(b, t))).attentionMask(m.create(mask,
                    new Shape(b, t))).positionIds(m.create(pos, new Shape(b, t)))).logits().toFloatArray();
        }
        double worst = 0;
        for (int i = 0; i < b * t; i++) {
            if (mask[i] == 0) {
                continue; // padding positions have no defined logits
            }
            for (int v = 0; v < c.vocabSize(); v++) {
                worst = Math.max(worst, Math.abs(onnx[i * c.vocabSize() + v] - djl[i * c.vocabSize() + v]));
            }
        }
        System.out.printf("%s: ONNX vs DJL logits max abs %.2e%n", fixture, worst);
        assertTrue(worst <= 1e-4, fixture + ": max abs difference " + worst);
    }
}
