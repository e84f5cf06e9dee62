package dev.glimpse.vision;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.glimpse.core.Fuzzing;

/**
 * The image loader on arbitrary bytes, seeded from real PNG, JPEG, WebP, TIFF, BMP and GIF files: an image, or a
 * BadInputException naming the input; decompression bombs stop at the pixel limit before memory is spent. The seeds
 * ({@code ImageLoaderFuzzTestInputs/image/python-*}) are CPython's {@code Lib/test/imghdrdata} images (PSF licence),
 * one per format.
 */
class ImageLoaderFuzzTest {
    static final ImageLoader LOADER = new ImageLoader(4_000_000, 8L << 20);

    @FuzzTest(maxDuration = "60s")
    void image(byte[] bytes) {
        Fuzzing.onlyBadInput(() -> LOADER.load(bytes, "fuzz input"));
    }
}
