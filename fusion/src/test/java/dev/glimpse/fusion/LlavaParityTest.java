package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import java.nio.file.Path;
import dev.glimpse.language.InferenceEngine;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A whole LLaVA checkpoint (tower + projector + Qwen2) against transformers' logits, with the LLM on DJL and on the
 * ONNX engine (fp32: the image rows enter the graph as inputs_embeds at the image token's slots).
 */
class LlavaParityTest {
    @TempDir
    static Path onnxCache;

    @ParameterizedTest
    @EnumSource(InferenceEngine.class)
    void logitsFromInputIdsAndPixelValues(InferenceEngine engine) {
        Path dir = TestData.fixture("tiny-llava");
        try (VisionLanguageModel vlm = VisionLanguageModel.builder().model(dir.toString()).engine(engine)
                .onnxCache(onnxCache).build();
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            assertEquals(16, vlm.tower().numTokens(), "layer -2, CLS dropped");
            float[] ids = ref.toFloats("input_ids");
            long[] l = new long[ids.length];
            for (int i = 0; i < l.length; i++) {
                l[i] = (long) ids[i];
            }
            float[] got = vlm.logits(l, 319, ref.toFloats("pixel_values"), 1);
            float[] want = ref.toFloats("logits");
            assertEquals(want.length, got.length);
            double err = 0;
            for (int i = 0; i < want.length; i++) {
                err = Math.max(err, Math.abs(got[i] - want[i]));
            }
            System.out.printf("tiny-llava (%s) logits max-abs error %.3g%n", engine, err);
            // measured 7.8e-7 on DJL; the ONNX engine is held to the 1e-4 (fp32 in another order)
            assertTrue(err <= (engine == InferenceEngine.DJL ? 1e-5 : 1e-4), "max-abs " + err);
        }
    }
}
