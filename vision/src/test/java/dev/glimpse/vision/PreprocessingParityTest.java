package dev.glimpse.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** pixel_values against transformers' PIL ("slow") processors and the MobileNetV2 reference. */
class PreprocessingParityTest {
    static final List<String> IMAGES = List.of("sqa_10555", "sqa_10671", "sqa_12365", "sqa_13204", "synthetic_rgba",
            "synthetic_gray");
    /** The target; a faithful Pillow port should sit far below it. */
    static final double TARGET = 2e-2;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-clip-vision", "tiny-siglip-vision"})
    void slowProcessorPixelValues(String tower) {
        Path dir = TestData.fixture(tower);
        ImageProcessor proc = ImageProcessor.read(dir);
        ImageLoader loader = new ImageLoader();
        double worst = 0;
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            for (String name : IMAGES) {
                // the fixture script ran img.convert("RGB") (alpha dropped, not composited) before the processor
                BufferedImage img = dropAlpha(TestData.fixture("images").resolve(name + ".png"));
                float[] got = proc.pixelValues(img);
                float[] want = ref.toFloats(name + ".slow.pixel_values");
                assertEquals(want.length, got.length, name);
                double err = 0;
                for (int i = 0; i < want.length; i++) {
                    err = Math.max(err, Math.abs(got[i] - want[i]));
                }
                System.out.printf("%s %s pixel_values max-abs error %.3g%n", tower, name, err);
                worst = Math.max(worst, err);
                assertTrue(err <= TARGET, tower + " " + name + " max-abs " + err);
            }
        }
        // one 8-bit level is 1/255/std ≈ 0.0146 (CLIP); an exact port stays at float rounding
        assertTrue(worst < 1e-5, tower + ": expected bit-level agreement with torchvision, worst " + worst);
    }

    /** Pillow's convert("RGB"): the colour channels as stored, alpha ignored. */
    static BufferedImage dropAlpha(Path file) {
        try {
            BufferedImage src = javax.imageio.ImageIO.read(file.toFile());
            if (!src.getColorModel().hasAlpha()) {
                return new ImageLoader().load(file);
            }
            BufferedImage out = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < src.getHeight(); y++) {
                for (int x = 0; x < src.getWidth(); x++) {
                    out.setRGB(x, y, src.getRGB(x, y) & 0xffffff);
                }
            }
            return out;
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void pillowAndTorchvisionBackendsDifferByAtMostOneLevel() {
        Path dir = TestData.fixture("tiny-clip-vision");
        BufferedImage img = new ImageLoader().load(TestData.fixture("images").resolve("sqa_13204.png"));
        float[] tv = new ImageProcessor(dev.glimpse.core.PreprocessorConfig.read(dir),
                ImageProcessor.ResizeBackend.TORCHVISION).pixelValues(img);
        float[] pil = new ImageProcessor(dev.glimpse.core.PreprocessorConfig.read(dir),
                ImageProcessor.ResizeBackend.PILLOW).pixelValues(img);
        double err = 0;
        for (int i = 0; i < tv.length; i++) {
            err = Math.max(err, Math.abs(tv[i] - pil[i]));
        }
        assertTrue(err < 0.016, "at most one 8-bit level apart: " + err);
    }

    @Test
    void mobileNetBilinearIsBitExact() {
        Path kit = TestData.model("mobilenet-v2-features");
        ImageProcessor proc = ImageProcessor.read(kit);
        BufferedImage img = new ImageLoader().load(TestData.scienceQa().resolve("images/test/13263/image.png"));
        float[] got = proc.pixelValues(img);
        try (SafetensorsFile ref = SafetensorsFile.open(TestData.mobileNetReference())) {
            float[] want = ref.toFloats("scienceqa_test_13263.pixel_values");
            assertArrayEquals(want, got, 0f);
        }
    }
}
