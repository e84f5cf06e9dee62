package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.OnnxGraph;
import dev.glimpse.core.OnnxGraph.Attribute;
import dev.glimpse.core.OnnxThreads;
import dev.glimpse.core.TestData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * fp16 / int8 / int4 weights: the quantizer's codes are what ONNX Runtime's MatMulNBits reads, and the built
 * models stay close to fp32 on the real stories260k (max logit error and greedy agreement are printed; the bounds
 * are the measured values with room for other CPUs, chosen to fail a broken quantizer by orders of magnitude).
 */
class OnnxWeightFormatsTest {
    @TempDir
    static Path cache;

    /** Every code within half a step of its value, the extreme of each block exact, a short last block padded. */
    @ParameterizedTest
    @CsvSource({"4, 32", "8, 32", "4, 64", "8, 16"})
    void quantizedValuesStayWithinHalfAStep(int bits, int block) {
        int n = 7;
        int k = 100; // not a multiple of any block size: the last block is padded
        float[] w = random(n * k, 1);
        BlockQuantizer.Quantized q = BlockQuantizer.quantize(w, n, k, bits, block);
        assertEquals((k + block - 1) / block, q.blocks());
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) {
                float scale = Math.abs(q.scales()[r * q.blocks() + c / block]);
                // the block's extreme maps to the lowest code, so the other side's top code is one step short
                // (as in Q4_0): values beyond it are clamped, at most one step off
                float top = ((1 << (bits - 1)) - 1) * scale;
                double bound = Math.abs(w[r * k + c]) <= top + scale / 2 ? scale / 2 : Math.abs(w[r * k + c]) - top;
                assertTrue(bound <= scale + 1e-6);
                assertEquals(w[r * k + c], q.dequantized(r, c), bound + 1e-6, "row " + r + " col " + c);
            }
        }
    }

    /** ONNX Runtime multiplies by exactly the weights the Java codes stand for (accuracy level 1: fp32 math). */
    @ParameterizedTest
    @CsvSource({"4, 32", "8, 32", "4, 16"})
    void matMulNBitsReadsTheCodesAsWritten(int bits, int block) throws Exception {
        int n = 24;
        int k = 80;
        int m = 3;
        float[] w = random(n * k, 2);
        float[] x = random(m * k, 3);
        BlockQuantizer.Quantized q = BlockQuantizer.quantize(w, n, k, bits, block);
        float[] got = matMulNBits(q, x, m, 1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                assertEquals(product(x, i, q, j, k), got[i * n + j], 1e-4, "y[" + i + "," + j + "]");
            }
        }
    }

    /**
     * 8-bit weights with fp32 activations run as a 4-bit matrix of twice the rows (hi nibbles at 16× the scale, zero
     * point 8; lo nibbles, zero point 0) whose halves sum to the 8-bit weights exactly, in Java and in ONNX Runtime.
     */
    @ParameterizedTest
    @CsvSource({"32", "16", "64"})
    void eightBitCodesSplitIntoTwoExactFourBitHalves(int block) throws Exception {
        int n = 20;
        int k = 100; // a padded last block, and an odd number of blocks at 64 (zero points packed two per byte)
        int m = 2;
        float[] w = random(n * k, 4);
        BlockQuantizer.Quantized q8 = BlockQuantizer.quantize(w, n, k, 8, block);
        BlockQuantizer.Quantized q4 = q8.nibbles();
        assertEquals(2 * n, q4.n());
        assertEquals(4, q4.bits());
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) {
                // a wrong code is a whole step (the scale) off; float rounding of the two products is ~1e-7 of it
                float step = Math.abs(q8.scales()[r * q8.blocks() + c / block]);
                assertEquals(q8.dequantized(r, c), q4.dequantized(r, c) + q4.dequantized(n + r, c), step * 1e-4,
                        "w[" + r + "," + c + "]");
            }
        }
        float[] x = random(m * k, 5);
        float[] halves = matMulNBits(q4, x, m, 1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                assertEquals(product(x, i, q8, j, k), halves[i * 2 * n + j] + halves[i * 2 * n + n + j], 1e-4,
                        "y[" + i + "," + j + "]");
            }
        }
        assertThrows(IllegalStateException.class, q4::nibbles);
    }

    @Test
    void accuracyLevelsAreOneOrFourAndOnlyForQuantizedWeights() {
        Path dir = TestData.fixture("tiny-llama");
        BadInputException e = assertThrows(BadInputException.class, () -> OnnxCausalLM.builder(dir).cacheDir(cache)
                .weights(WeightFormat.INT8).accuracyLevel(2).build());
        assertTrue(e.getMessage().contains("1 (fp32 activations) or 4 (int8 activations), not 2"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> OnnxCausalLM.builder(dir).cacheDir(cache)
                .weights(WeightFormat.FP16).accuracyLevel(4).build());
        assertTrue(e.getMessage().contains("int8 / int4 weights, not fp16"), e.getMessage());
    }

    /** x[i]·w[j] over the values the codes stand for, in double. */
    static double product(float[] x, int i, BlockQuantizer.Quantized q, int j, int k) {
        double sum = 0;
        for (int c = 0; c < k; c++) {
            sum += x[i * k + c] * q.dequantized(j, c);
        }
        return sum;
    }

    /** x [m, K] times the quantized matrix by ONNX Runtime's MatMulNBits alone: [m, N]. */
    static float[] matMulNBits(BlockQuantizer.Quantized q, float[] x, int m, int level) throws Exception {
        ByteBuffer scales = ByteBuffer.allocate(q.scales().length * 4).order(ByteOrder.LITTLE_ENDIAN);
        scales.asFloatBuffer().put(q.scales());
        List<String> inputs = new java.util.ArrayList<>(List.of("x", "codes", "scales"));
        OnnxGraph g = new OnnxGraph("nbits").input("x", OnnxGraph.FLOAT, (long) m, (long) q.k())
                .initializer("codes", OnnxGraph.UINT8, new long[] {q.n(), q.blocks(), q.blobSize()}, q.codes())
                .initializer("scales", OnnxGraph.FLOAT, new long[] {q.n(), q.blocks()}, scales.array());
        if (q.zeroPoints() != null) {
            g.initializer("zero_points", OnnxGraph.UINT8, new long[] {q.n(), q.zeroPoints().length / q.n()},
                    q.zeroPoints());
            inputs.add("zero_points");
        }
        byte[] model = g.node("com.microsoft", "MatMulNBits", inputs, List.of("y"),
                        Attribute.of("K", (long) q.k()), Attribute.of("N", (long) q.n()),
                        Attribute.of("bits", (long) q.bits()), Attribute.of("block_size", (long) q.blockSize()),
                        Attribute.of("accuracy_level", (long) level))
                .output("y", OnnxGraph.FLOAT, (long) m, (long) q.n()).toBytes();
        return OnnxThreads.call(() -> {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession s = env.createSession(model, new OrtSession.SessionOptions());
                 OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {m, q.k()});
                 OrtSession.Result r = s.run(java.util.Map.of("x", in))) {
                FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
                float[] out = new float[fb.remaining()];
                fb.get(out);
                return out;
            }
        });
    }

    /**
     * stories260k in each format: max abs logit error against fp32 and the top token at each of 64 positions of a
     * teacher-forced prompt (asserted), and agreement of 200 greedy tokens from BOS with transformers' reference
     * (printed).
     */
    @ParameterizedTest
    @CsvSource({"fp16, 0, 0.03, 64", "int8, 4, 1, 62", "int8, 1, 1, 62", "int4, 4, 15, 50", "int4, 1, 15, 50"})
    void formatsStayCloseToFp32(String format, int accuracyLevel, double maxLogitError, int minTopTokens)
            throws Exception {
        Path dir = TestData.model("stories260k");
        JsonNode bos = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("bos_greedy");
        int[] prompt = StoriesAndTokenizerTest.ints(bos.get("prompt_ids"));
        int[] reference = StoriesAndTokenizerTest.ints(bos.get("ids"));
        long[] ids = new long[64];
        ids[0] = prompt[0];
        for (int i = 1; i < ids.length; i++) {
            ids[i] = reference[i - 1];
        }
        float[] exact;
        try (OnnxCausalLM fp32 = OnnxCausalLM.builder(dir).cacheDir(cache).build()) {
            exact = logits(fp32, ids);
        }
        OnnxCausalLM.Builder b = OnnxCausalLM.builder(dir).cacheDir(cache).weights(WeightFormat.parse(format));
        if (accuracyLevel > 0) { // 0: the float formats have none
            b.accuracyLevel(accuracyLevel);
        }
        try (OnnxCausalLM lm = b.build()) {
            float[] got = logits(lm, ids);
            double err = 0;
            double scale = 0;
            for (int i = 0; i < got.length; i++) {
                err = Math.max(err, Math.abs(got[i] - exact[i]));
                scale = Math.max(scale, Math.abs(exact[i]));
            }
            int v = lm.config().vocabSize();
            int top1 = 0;
            for (int p = 0; p < ids.length; p++) {
                top1 += Sampler.argmax(got, p * v, v) == Sampler.argmax(exact, p * v, v) ? 1 : 0;
            }
            int[] out = lm.generate(prompt, OnnxCausalLMTest.greedy(200));
            int agree = 0;
            while (agree < out.length && out[agree] == reference[agree]) {
                agree++;
            }
            System.out.printf("stories260k %s (accuracy level %d): max logit error vs fp32 %.3g (largest logit %.3g), "
                    + "same top token at %d of 64 positions; greedy tokens equal to the reference "
                    + "%d of 200 (until the first difference); model %d bytes%n", format, accuracyLevel, err, scale, top1, agree,
                    lm.modelBytes());
            assertTrue(err <= maxLogitError, format + " max logit error " + err);
            assertNotEquals(0.0, err, format + " should differ from fp32 somewhere");
            // greedy agreement is printed, not asserted: one near-tie flipped anywhere changes the rest of the text,
            // so it moves with any change of summation order; the top token at each teacher-forced position does not
            assertTrue(top1 >= minTopTokens, format + ": same top token at " + top1 + " of 64 positions");
        }
    }

    @Test
    void buildsAreCachedByOptionsAndUnfinishedBuildsIgnored() throws Exception {
        Path dir = TestData.fixture("tiny-llama");
        Path own = Files.createTempDirectory(cache, "own");
        Path first;
        try (OnnxCausalLM lm = OnnxCausalLM.builder(dir).cacheDir(own).weights(WeightFormat.INT4).build()) {
            first = lm.modelDir();
        }
        long written = Files.getLastModifiedTime(first.resolve("model.onnx")).toMillis();
        try (OnnxCausalLM again = OnnxCausalLM.builder(dir).cacheDir(own).weights(WeightFormat.INT4).build();
             OnnxCausalLM other = OnnxCausalLM.builder(dir).cacheDir(own).weights(WeightFormat.INT4).blockSize(16)
                     .build()) {
            assertEquals(first, again.modelDir(), "the same options reuse the build");
            assertEquals(written, Files.getLastModifiedTime(first.resolve("model.onnx")).toMillis());
            assertNotEquals(first, other.modelDir(), "other options are another build");
        }
        // a build that died before its build.json is not used: it is built again
        Files.delete(first.resolve("build.json"));
        Files.writeString(first.resolve("model.onnx"), "half written");
        try (OnnxCausalLM lm = OnnxCausalLM.builder(dir).cacheDir(own).weights(WeightFormat.INT4).build()) {
            assertTrue(Files.size(lm.modelDir().resolve("model.onnx")) > 100);
        }
        assertThrows(BadInputException.class, () -> OnnxCausalLM.builder(dir).cacheDir(own)
                .weights(WeightFormat.INT4).blockSize(24).build());
        assertThrows(BadInputException.class, () -> WeightFormat.parse("q4_k"));
    }

    static float[] logits(OnnxCausalLM lm, long[] ids) {
        return OnnxThreads.call(() -> {
            try (OnnxCausalLM.Step s = lm.forward(null, ids, null, 1, ids.length, ids.length)) {
                return s.logits;
            }
        });
    }

    static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) r.nextGaussian();
        }
        return out;
    }
}
