package dev.glimpse.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Both tower paths against transformers' outputs, given the fixture's own pixel_values. */
class TowerParityTest {
    // measured up to 3.1e-6 (ONNX and DJL, CLIP and SigLIP); hidden states reach |x| ~ 5
    static final double TOLERANCE = 1e-5;
    static final List<String> IMAGES = PreprocessingParityTest.IMAGES;

    static double maxAbs(float[] a, float[] b) {
        assertEquals(b.length, a.length);
        double e = 0;
        for (int i = 0; i < a.length; i++) {
            e = Math.max(e, Math.abs(a[i] - b[i]));
        }
        return e;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-clip-vision", "tiny-siglip-vision"})
    void onnxLastAndPenultimate(String tower) {
        Path dir = TestData.fixture(tower);
        try (OnnxVisionTower last = OnnxVisionTower.builder(dir).dropCls(false).build();
             OnnxVisionTower pen = OnnxVisionTower.builder(dir).layer("-2").dropCls(false).build();
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            double worst = 0;
            for (String name : IMAGES) {
                float[] px = ref.toFloats(name + ".slow.pixel_values");
                Features f = last.encodePixels(px, 1);
                worst = Math.max(worst, maxAbs(f.values(), ref.toFloats(name + ".last_hidden_state")));
                worst = Math.max(worst, maxAbs(pen.encodePixels(px, 1).values(),
                        ref.toFloats(name + ".penultimate_hidden_state")));
            }
            System.out.printf("%s ONNX hidden states max-abs error %.3g%n", tower, worst);
            assertTrue(worst <= TOLERANCE, tower + " ONNX max-abs " + worst);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-clip-vision", "tiny-siglip-vision"})
    void djlLastPenultimateAndPooled(String tower) {
        Path dir = TestData.fixture(tower);
        try (VitVisionTower vit = VitVisionTower.load(dir, -1, false);
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             NDManager m = GlimpseEngine.newCpuManager()) {
            double worst = 0;
            for (String name : IMAGES) {
                NDArray px = ref.toNDArray(m, name + ".slow.pixel_values", DataType.FLOAT32);
                VitVisionTower.Outputs o = vit.forward(px);
                List<NDArray> hs = o.hiddenStates();
                worst = Math.max(worst, maxAbs(o.lastHiddenState().toFloatArray(),
                        ref.toFloats(name + ".last_hidden_state")));
                worst = Math.max(worst, maxAbs(hs.get(hs.size() - 2).toFloatArray(),
                        ref.toFloats(name + ".penultimate_hidden_state")));
                worst = Math.max(worst, maxAbs(o.pooled().toFloatArray(), ref.toFloats(name + ".pooler_output")));
            }
            System.out.printf("%s DJL hidden states and pooled max-abs error %.3g%n", tower, worst);
            assertTrue(worst <= TOLERANCE, tower + " DJL max-abs " + worst);
        }
    }

    @Test
    void clsSelectionAndLayerChoice() {
        Path dir = TestData.fixture("tiny-clip-vision");
        try (VitVisionTower vit = VitVisionTower.load(dir, -2, true);
             OnnxVisionTower onnx = OnnxVisionTower.builder(dir).layer("-2").build();
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            assertEquals(16, vit.numTokens());
            assertEquals(16, onnx.numTokens());
            float[] px = ref.toFloats("sqa_13204.slow.pixel_values");
            Features a = vit.encodePixels(px, 1);
            Features b = onnx.encodePixels(px, 1);
            assertEquals(16, a.tokens());
            float[] pen = ref.toFloats("sqa_13204.penultimate_hidden_state");
            float[] noCls = java.util.Arrays.copyOfRange(pen, 48, pen.length);
            assertTrue(maxAbs(a.values(), noCls) <= TOLERANCE);
            assertTrue(maxAbs(b.values(), noCls) <= TOLERANCE);
            assertTrue(!vit.id().equals(onnx.id()), "cache keys tell the towers apart");
        }
        assertThrows(BadInputException.class, () -> VitVisionTower.load(dir, 7, true));
        BadInputException e = assertThrows(BadInputException.class,
                () -> OnnxVisionTower.builder(dir).layer("block_99").build());
        assertTrue(e.getMessage().contains("no output 'block_99'") && e.getMessage().contains("last_hidden_state"));
    }

    @Test
    void mobileNetOnnxMatchesItsReference() {
        Path kit = TestData.model("mobilenet-v2-features");
        try (OnnxVisionTower last = OnnxVisionTower.builder(kit).build();
             OnnxVisionTower mid = OnnxVisionTower.builder(kit).layer("block_13_hidden_state").build();
             SafetensorsFile ref = SafetensorsFile.open(TestData.mobileNetReference())) {
            assertEquals(49, mid.numTokens());
            assertEquals(160, mid.hiddenSize());
            double worstLast = 0;
            double worstMid = 0;
            double worstPool = 0;
            for (String id : List.of("scienceqa_test_13263", "synthetic_pattern")) {
                float[] px = ref.toFloats(id + ".pixel_values");
                Features f = last.encodePixels(px, 1);
                worstLast = Math.max(worstLast, maxAbs(f.values(), ref.toFloats(id + ".last_hidden_state")));
                worstPool = Math.max(worstPool, maxAbs(f.pooled(), ref.toFloats(id + ".pooler_output")));
                worstMid = Math.max(worstMid, maxAbs(mid.encodePixels(px, 1).values(),
                        ref.toFloats(id + ".block_13_hidden_state")));
            }
            System.out.printf("MobileNetV2 max-abs: last %.3g, block_13 %.3g, pooled %.3g%n", worstLast, worstMid,
                    worstPool);
            // reference.json's recommended tolerances: the reference is a float64 TF-semantics forward, values in
            // [0, 6]; ORT's fp32 kernels measured 3.5e-5 / 5.1e-6 there
            // (reference.json recommends 2e-4 / 5e-5); on these two inputs 3.5e-5 / 1.5e-5 / 2.9e-6, so ~3x margins
            assertTrue(worstLast <= 1e-4, "last " + worstLast);
            assertTrue(worstPool <= 1e-5, "pooled " + worstPool);
            assertTrue(worstMid <= 5e-5, "block_13 " + worstMid);
            // end to end from the image file: the same tensor as the reference's own pixel values give
            Features fromImage = mid.encode(List.of(new ImageLoader()
                    .load(TestData.scienceQa().resolve("images/test/13263/image.png"))));
            assertTrue(maxAbs(fromImage.values(), ref.toFloats("scienceqa_test_13263.block_13_hidden_state")) <= 5e-5);
        }
    }
}
