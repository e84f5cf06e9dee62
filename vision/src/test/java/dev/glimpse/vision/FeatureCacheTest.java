package dev.glimpse.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.DType;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeatureCacheTest {
    static List<Path> fixtureImages() throws Exception {
        try (Stream<Path> s = Files.list(TestData.fixture("images"))) {
            return s.sorted().toList();
        }
    }

    @Test
    void encodesOnceAndReusesByContent(@TempDir Path dir) throws Exception {
        List<Path> images = new ArrayList<>(fixtureImages());
        Path broken = dir.resolve("broken.png");
        Files.write(broken, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        images.add(broken);
        Path copy = dir.resolve("copy.png");
        Files.copy(images.get(0), copy);
        images.add(copy);
        Path root = dir.resolve("cache");
        try (OnnxVisionTower tower = OnnxVisionTower.builder(TestData.fixture("tiny-clip-vision")).layer("-2").build()) {
            FeatureCache.Result r;
            try (FeatureCache c = FeatureCache.open(root, tower, DType.F32)) {
                r = c.encodeAll(images, 4, dev.glimpse.core.Progress.NONE);
            }
            assertEquals(8, r.images());
            assertEquals(6, r.encoded());
            assertEquals(1, r.reused(), "the copy has the same content");
            assertEquals(1, r.failed().size());
            assertTrue(r.failed().get(0).image().endsWith("broken.png"));
            // a second run reuses everything
            try (FeatureCache c = FeatureCache.open(root, tower, DType.F32)) {
                FeatureCache.Result again = c.encodeAll(images, 4, dev.glimpse.core.Progress.NONE);
                assertEquals(0, again.encoded());
                assertEquals(7, again.reused());
                float[] cached = c.get(FeatureCache.contentHash(images.get(3)));
                float[] fresh = tower.encode(List.of(new ImageLoader().load(images.get(3)))).image(0);
                assertArrayEquals(fresh, cached, 0f);
                assertEquals(16 * 48, cached.length);
            }
        }
        // another layer is another cache: nothing stale is served
        try (OnnxVisionTower last = OnnxVisionTower.builder(TestData.fixture("tiny-clip-vision")).build();
             FeatureCache c = FeatureCache.open(root, last, DType.F16)) {
            assertEquals(0, c.size());
            FeatureCache.Result r = c.encodeAll(fixtureImages(), 8, dev.glimpse.core.Progress.NONE);
            assertEquals(6, r.encoded());
            float[] f16 = c.get(FeatureCache.contentHash(fixtureImages().get(0)));
            float[] f32 = last.encode(List.of(new ImageLoader().load(fixtureImages().get(0)))).image(0);
            for (int i = 0; i < f32.length; i++) {
                assertEquals(f32[i], f16[i], Math.abs(f32[i]) * 1e-3 + 1e-3, "fp16 storage");
            }
        }
        try (Stream<Path> dirs = Files.list(root)) {
            assertEquals(2, dirs.count());
        }
    }

    @Test
    void preprocessingChangesTheKey() {
        try (OnnxVisionTower a = OnnxVisionTower.builder(TestData.fixture("tiny-clip-vision")).build();
             OnnxVisionTower b = OnnxVisionTower.builder(TestData.fixture("tiny-clip-vision"))
                     .processor(new ImageProcessor(dev.glimpse.core.PreprocessorConfig.read(
                             TestData.fixture("tiny-clip-vision")), ImageProcessor.ResizeBackend.PILLOW)).build()) {
            assertNotEquals(a.id(), b.id());
        }
    }
}
