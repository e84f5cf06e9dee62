package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProjectorPositionEmbeddingTest {
    static float[] features(int n, long seed) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    @Test
    void startsAtZeroAddsPerTokenAndRoundTrips(@TempDir Path dir) {
        int tokens = 5;
        Projector plain = Projector.initialize(ProjectorType.MLP2X_GELU, 8, 6, false, 3);
        Projector pos = plain.withPositionEmbedding(tokens);
        assertEquals(0, plain.positions());
        assertEquals(tokens, pos.positions());
        assertEquals(plain.parameterCount() + tokens * 6, pos.parameterCount());
        try (NDManager m = GlimpseEngine.newCpuManager()) {
            // two images of five tokens each
            NDArray x = m.create(features(2 * tokens * 8, 1), new Shape(2 * tokens, 8));
            float[] a = plain.forward(x, plain.toNDArrays(m, false)).toFloatArray();
            float[] b = pos.forward(x, pos.toNDArrays(m, false)).toFloatArray();
            assertArrayEquals(a, b, 0f, "a zero position embedding changes nothing");
            // token t of every image gets row t
            float[] pe = pos.parameters().values().get(Projector.POSITIONS);
            for (int i = 0; i < pe.length; i++) {
                pe[i] = i;
            }
            float[] c = pos.forward(x, pos.toNDArrays(m, false)).toFloatArray();
            for (int img = 0; img < 2; img++) {
                for (int t = 0; t < tokens; t++) {
                    for (int h = 0; h < 6; h++) {
                        int row = (img * tokens + t) * 6 + h;
                        assertEquals(a[row] + t * 6 + h, c[row], 1e-5);
                    }
                }
            }
            pos.save(dir.resolve("a.safetensors"));
            try (Checkpoint ck = Checkpoint.open(dir.resolve("a.safetensors"))) {
                Projector back = Projector.fromCheckpoint(ck, Projector.PREFIX);
                assertEquals(tokens, back.positions());
                assertArrayEquals(c, back.forward(x, back.toNDArrays(m, false)).toFloatArray(), 0f);
            }
            // gradients reach the embedding
            Map<String, NDArray> p = pos.toNDArrays(m, true);
            try (var gc = GlimpseEngine.engine().newGradientCollector()) {
                gc.backward(pos.forward(x, p).sum());
            }
            float[] g = p.get(Projector.POSITIONS).getGradient().toFloatArray();
            assertEquals(2f, g[0], 0f, "d(sum)/d(pe) is the number of images");
        }
        assertThrows(BadInputException.class, () -> plain.withPositionEmbedding(0));
    }
}
