package dev.glimpse.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.glimpse.core.PreprocessorConfig;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LLaVA's image_aspect_ratio "pad": the image is centred on a square of the mean colour before resizing. */
class PadToSquareTest {
    @Test
    void wideImageIsPaddedWithTheMeanColour(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"image_processor_type\":\"CLIPImageProcessor\","
                + "\"size\":{\"height\":4,\"width\":4},\"do_center_crop\":false,\"resample\":0,\"do_rescale\":true,"
                + "\"rescale_factor\":0.00392156862745098,\"do_normalize\":false,\"image_mean\":[0.5,0.25,0.0],"
                + "\"image_std\":[1,1,1],\"image_aspect_ratio\":\"pad\"}");
        PreprocessorConfig c = PreprocessorConfig.read(dir);
        BufferedImage wide = new BufferedImage(4, 2, BufferedImage.TYPE_INT_RGB);
        for (int x = 0; x < 4; x++) {
            wide.setRGB(x, 0, 0xffffff);
            wide.setRGB(x, 1, 0xffffff);
        }
        float[] px = new ImageProcessor(c, ImageProcessor.ResizeBackend.PILLOW).pixelValues(wide);
        // rows 0 and 3 are padding (mean colour 127, 63, 0 as int(x*255)), rows 1-2 the white image
        assertEquals(127 / 255f, px[0], 1e-6);
        assertEquals(63 / 255f, px[16], 1e-6);
        assertEquals(0f, px[32], 1e-6);
        assertEquals(1f, px[4], 1e-6);
        assertEquals(1f, px[8], 1e-6);
        assertEquals(127 / 255f, px[12], 1e-6);
    }
}
