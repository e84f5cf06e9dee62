package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.OnnxThreads;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fp32 ONNX graph against transformers' own outputs (the fixtures' reference.safetensors) and against the DJL
 * model, on every LLM fixture family: from ids with left padding, whole and step by step through the KV cache,
 * from inputs_embeds, and greedy generation. The graph does the same fp32 arithmetic in another order, so logits
 * differ by rounding only: 9e-7 max-abs at most here (printed per fixture); the bound, 5e-6 (about 40 fp32 ulps at
 * the logits' magnitude of 1), leaves room for other CPUs' kernels summing in yet another order, and is 20× tighter
 * than the project's 1e-4 for fp32 logits.
 */
class OnnxParityTest {
    static final double TOLERANCE = 5e-6;

    @TempDir
    static Path cache;

    static OnnxCausalLM load(String name) {
        return OnnxCausalLM.builder(TestData.fixture(name)).cacheDir(cache).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama3-rope", "tiny-qwen2", "tiny-qwen3"})
    void leftPaddedBatchEqualsTransformersWholeAndThroughTheCache(String name) throws Exception {
        try (OnnxCausalLM lm = load(name);
             SafetensorsFile r = SafetensorsFile.open(TestData.fixture(name).resolve("reference.safetensors"))) {
            long[] ids = longs(r.toFloats("batch.input_ids"));
            long[] mask = longs(r.toFloats("batch.attention_mask"));
            long[] pos = longs(r.toFloats("batch.position_ids"));
            int b = (int) r.info("batch.input_ids").shape()[0];
            int t = ids.length / b;
            float[] want = r.toFloats("batch.logits");
            float[] whole = OnnxThreads.call(() -> stepped(lm, ids, mask, pos, b, t, 0));
            float[] cached = OnnxThreads.call(() -> stepped(lm, ids, mask, pos, b, t, t - 3));
            int v = lm.config().vocabSize();
            double err = maxErr(whole, want, mask, v);
            double errCached = maxErr(cached, want, mask, v);
            System.out.printf("%s: ONNX vs transformers batch logits %.2e, through the KV cache %.2e%n", name, err,
                    errCached);
            assertTrue(err <= TOLERANCE, name + " max abs " + err);
            assertTrue(errCached <= TOLERANCE, name + " through the cache, max abs " + errCached);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama3-rope", "tiny-qwen2", "tiny-qwen3"})
    void inputsEmbedsEqualTransformersAndMixWithIds(String name) throws Exception {
        try (OnnxCausalLM lm = load(name);
             SafetensorsFile r = SafetensorsFile.open(TestData.fixture(name).resolve("reference.safetensors"))) {
            float[] embeds = r.toFloats("embeds.inputs_embeds");
            int h = lm.config().hiddenSize();
            int t = embeds.length / h;
            long[] ids = new long[t];
            Arrays.fill(ids, -1);
            float[] got = OnnxThreads.call(() -> {
                try (OnnxCausalLM.Step s = lm.forward(null, ids, embeds, 1, t, t)) {
                    return s.logits;
                }
            });
            float[] want = r.toFloats("embeds.logits");
            double err = maxErr(got, want, null, lm.config().vocabSize());
            System.out.printf("%s: ONNX vs transformers from inputs_embeds %.2e%n", name, err);
            assertTrue(err <= TOLERANCE, name + " max abs " + err);

            // ids and embeddings mixed: the embedding rows of tokens give the logits of the tokens themselves
            int[] tokens = {1, 17, 99, 3, 250, 41};
            float[] rows = new float[2 * h];
            try (CausalLM djl = CausalLM.load(TestData.fixture(name), GlimpseEngine.newCpuManager(),
                    DataType.FLOAT32); NDManager m = djl.manager().newSubManager()) {
                float[] e = djl.embed(m.create(longs(tokens), new Shape(1, tokens.length))).toFloatArray();
                System.arraycopy(e, 2 * h, rows, 0, 2 * h); // positions 2 and 3 come as embeddings, in slot order
            }
            int[] mixed = tokens.clone();
            mixed[2] = Prompt.SLOT;
            mixed[3] = Prompt.SLOT;
            float[] fromIds = lm.logits(Prompt.of(tokens));
            float[] fromMixed = lm.logits(new Prompt(mixed, rows));
            assertEquals(0, maxErr(fromMixed, fromIds, null, lm.config().vocabSize()), 1e-6, name);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama3-rope", "tiny-qwen2", "tiny-qwen3"})
    void greedyGenerationEqualsTransformersAndDjl(String name) {
        int[] prompt;
        int[] expected;
        try (SafetensorsFile r = SafetensorsFile.open(TestData.fixture(name).resolve("reference.safetensors"))) {
            prompt = LanguageParityTest.toInts(r.toFloats("generate.prompt"));
            expected = LanguageParityTest.toInts(r.toFloats("generate.output_ids"));
        }
        GenerationOptions greedy = GenerationOptions.builder().maxNewTokens(12).useModelStopTokens(false).build();
        int[] djl;
        try (CausalLM lm = CausalLM.load(TestData.fixture(name), GlimpseEngine.newCpuManager(), DataType.FLOAT32)) {
            djl = lm.generate(prompt, greedy, null);
        }
        try (OnnxCausalLM lm = load(name)) {
            int[] got = lm.generate(prompt, greedy);
            assertArrayEquals(Arrays.copyOfRange(expected, prompt.length, expected.length), got, name);
            assertArrayEquals(djl, got, name);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-qwen3"})
    void scoredContinuationsEqualTheDjlModel(String name) {
        int[] prompt = {1, 17, 99, 3, 250, 41};
        java.util.List<int[]> conts = java.util.List.of(new int[] {5}, new int[] {7, 8, 9}, new int[] {200, 3});
        double[] djl;
        try (CausalLM lm = CausalLM.load(TestData.fixture(name), GlimpseEngine.newCpuManager(), DataType.FLOAT32)) {
            djl = lm.scoreContinuations(prompt, conts);
        }
        try (OnnxCausalLM lm = load(name)) {
            double[] got = lm.scoreContinuations(prompt, conts);
            for (int i = 0; i < got.length; i++) {
                assertEquals(djl[i], got[i], 1e-4, name + " continuation " + i);
            }
        }
    }

    /** A PEFT LoRA merged before export gives the logits of the DJL model with the same LoRA merged. */
    @org.junit.jupiter.api.Test
    void loraMergedBeforeExportEqualsDjlWithTheLora() {
        Path dir = TestData.fixture("tiny-llama");
        Path loraDir = TestData.fixture("adapter-step").resolve("lora");
        int[] ids = {1, 17, 99, 3, 250, 41, 8};
        float[] djl;
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32);
             NDManager m = lm.manager().newSubManager()) {
            lm.attach(LanguageAdapter.load(loraDir), true);
            djl = lm.forward(CausalLM.Input.ids(m.create(longs(ids), new Shape(1, ids.length)))).logits().toFloatArray();
        }
        float[] base;
        try (OnnxCausalLM lm = load("tiny-llama")) {
            base = lm.logits(Prompt.of(ids));
        }
        try (OnnxCausalLM lm = OnnxCausalLM.builder(dir).cacheDir(cache)
                .mergeLora(LanguageAdapter.load(loraDir), loraDir).build()) {
            float[] got = lm.logits(Prompt.of(ids));
            double err = maxErr(got, djl, null, lm.config().vocabSize());
            double moved = maxErr(base, djl, null, lm.config().vocabSize());
            System.out.printf("LoRA merged before export: ONNX vs DJL %.2e (the LoRA moves logits by %.2e)%n", err,
                    moved);
            assertTrue(moved > 1e-3, "the fixture's LoRA must change the logits for this test to mean anything");
            assertTrue(err <= TOLERANCE, "max abs " + err);
        }
    }

    /**
     * Logits [B, T, V] of the rows: the first {@code prefill} tokens at once (all when 0), then one token at a time
     * through the cache.
     */
    static float[] stepped(OnnxCausalLM lm, long[] ids, long[] mask, long[] pos, int b, int t, int prefill)
            throws Exception {
        int v = lm.config().vocabSize();
        float[] logits = new float[b * t * v];
        int first = prefill == 0 ? t : prefill;
        OnnxCausalLM.Step past = null;
        try {
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
                OnnxCausalLM.Step s = lm.forward(past, stepIds, null, stepMask, stepPos, b, n, n);
                if (past != null) {
                    past.close();
                }
                past = s;
                for (int row = 0; row < b; row++) {
                    System.arraycopy(s.logits, row * n * v, logits, (row * t + done) * v, n * v);
                }
                done += n;
            }
        } finally {
            if (past != null) {
                past.close();
            }
        }
        return logits;
    }

    /** Max abs difference over positions whose mask is 1 (all when null): padded positions have no defined logits. */
    static double maxErr(float[] got, float[] want, long[] mask, int v) {
        assertEquals(want.length, got.length);
        double err = 0;
        for (int i = 0; i < want.length; i++) {
            if (mask == null || mask[i / v] == 1) {
                err = Math.max(err, Math.abs(got[i] - want[i]));
            }
        }
        return err;
    }

    static long[] longs(float[] f) {
        long[] out = new long[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = (long) f[i];
        }
        return out;
    }

    static long[] longs(int[] a) {
        long[] out = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }
}
