package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Models written by OnnxGraph load in ONNX Runtime and compute what the same arithmetic gives in Java. */
class OnnxGraphTest {
    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    @Test
    void aLinearLayerWithSoftmaxTransposeAndHalfWeightsRunsAsInJava() throws Exception {
        int in = 5;
        int out = 3;
        float[] w = random(in * out, 1);
        float[] bias = random(out, 2);
        byte[] model = new OnnxGraph("linear").input("x", OnnxGraph.FLOAT, "batch", (long) in)
                .initializer("w16", OnnxGraph.FLOAT16, new long[] {in, out}, w)
                .initializer("b", OnnxGraph.FLOAT, new long[] {out}, bias)
                .node("Cast", List.of("w16"), List.of("w"), OnnxGraph.Attribute.of("to", (long) OnnxGraph.FLOAT))
                .node("MatMul", List.of("x", "w"), List.of("xw"))
                .node("Add", List.of("xw", "b"), List.of("y"))
                .node("Softmax", List.of("y"), List.of("p"), OnnxGraph.Attribute.of("axis", -1L))
                .node("Transpose", List.of("p"), List.of("pt"), OnnxGraph.Attribute.ints("perm", 1, 0))
                .output("pt", OnnxGraph.FLOAT, (long) out, "batch").toBytes();
        int batch = 4;
        float[] x = random(batch * in, 3);
        float[] got = OnnxThreads.call(() -> {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession s = env.createSession(model, new OrtSession.SessionOptions());
                 OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {batch, in});
                 OrtSession.Result r = s.run(Map.of("x", t))) {
                OnnxTensor o = (OnnxTensor) r.get(0);
                assertArrayEquals(new long[] {out, batch}, o.getInfo().getShape());
                float[] a = new float[out * batch];
                o.getFloatBuffer().get(a);
                return a;
            }
        });
        // the same in Java, with the weights rounded to half precision as stored
        float[] wh = TensorCodec.toFloats(DType.F16, TensorCodec.encodeFloats(DType.F16, w), w.length);
        double worst = 0;
        for (int b = 0; b < batch; b++) {
            double[] y = new double[out];
            double max = Double.NEGATIVE_INFINITY;
            for (int o = 0; o < out; o++) {
                double acc = bias[o];
                for (int i = 0; i < in; i++) {
                    acc += x[b * in + i] * wh[i * out + o];
                }
                y[o] = acc;
                max = Math.max(max, acc);
            }
            double sum = 0;
            for (int o = 0; o < out; o++) {
                sum += Math.exp(y[o] - max);
            }
            for (int o = 0; o < out; o++) {
                worst = Math.max(worst, Math.abs(Math.exp(y[o] - max) / sum - got[o * batch + b]));
            }
        }
        assertEquals(0, worst, 1e-6, "fp32 arithmetic on the same values: max abs difference " + worst);
    }

    @Test
    void int64InitializersStringAndFloatAttributesAreEncoded() throws Exception {
        byte[] model = new OnnxGraph("reshape").input("x", OnnxGraph.FLOAT, 2L, 6L)
                .initializer("shape", new long[] {3}, new long[] {3, -1, 2})
                .node("Reshape", List.of("x", "shape"), List.of("r"))
                .node("Gelu", List.of("r"), List.of("g"), OnnxGraph.Attribute.of("approximate", "tanh"))
                .node("LeakyRelu", List.of("g"), List.of("y"), OnnxGraph.Attribute.of("alpha", 0.3f))
                .output("y", OnnxGraph.FLOAT, 3L, 2L, 2L).toBytes();
        float[] x = random(12, 4);
        float[] got = OnnxThreads.call(() -> {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession s = env.createSession(model, new OrtSession.SessionOptions());
                 OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {2, 6});
                 OrtSession.Result r = s.run(Map.of("x", t))) {
                OnnxTensor o = (OnnxTensor) r.get(0);
                assertArrayEquals(new long[] {3, 2, 2}, o.getInfo().getShape());
                float[] a = new float[12];
                o.getFloatBuffer().get(a);
                return a;
            }
        });
        for (int i = 0; i < 12; i++) {
            double v = x[i];
            double gelu = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            double y = gelu >= 0 ? gelu : 0.3f * gelu;
            assertEquals(y, got[i], 1e-6, "element " + i);
        }
    }
}
