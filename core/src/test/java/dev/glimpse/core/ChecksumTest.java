package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files written with a checksum detect every single bit flip and any truncation; other files still load. */
class ChecksumTest {
    static Path write(Path dir, boolean checksum) {
        SafetensorsWriter w = new SafetensorsWriter().metadata("step", "12");
        if (checksum) {
            w.withChecksum();
        }
        w.add("a", DType.F32, new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6});
        w.add("b", DType.F16, new long[] {4}, new float[] {0.5f, -1, 2, 8});
        Path p = dir.resolve(checksum ? "with.safetensors" : "without.safetensors");
        w.write(p);
        return p;
    }

    /** Every byte of the file (prefix, header, padding, data), one random bit each. */
    @Test
    void everyBitFlipAndEveryTruncationIsDetected(@TempDir Path dir) throws Exception {
        Path p = write(dir, true);
        byte[] good = Files.readAllBytes(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.hasChecksum());
            f.verify();
        }
        SplittableRandom r = new SplittableRandom(7);
        int detected = 0;
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= (byte) (1 << r.nextInt(8));
            Path q = dir.resolve("flip.safetensors");
            Files.write(q, bad);
            if (rejected(q, new String(bad, StandardCharsets.ISO_8859_1))) {
                detected++;
            }
        }
        assertTrue(detected == good.length, detected + " of " + good.length + " flips detected");
        for (int n = 0; n < good.length; n++) {
            Path q = dir.resolve("cut.safetensors");
            Files.write(q, java.util.Arrays.copyOf(good, n));
            assertTrue(rejected(q, null), "a file cut at " + n + " bytes is refused");
        }
    }

    static boolean rejected(Path q, String ignored) {
        try (SafetensorsFile f = SafetensorsFile.open(q)) {
            f.verify(true); // a flip in the checksum's own key would otherwise read as "no checksum"
            return false;
        } catch (BadInputException e) {
            return true;
        }
    }

    @Test
    void filesWithoutAChecksumStillLoad(@TempDir Path dir) {
        try (SafetensorsFile f = SafetensorsFile.open(write(dir, false))) {
            assertFalse(f.hasChecksum());
            f.verify();
        }
    }

    @Test
    void aChangedMetadataValueIsCaught(@TempDir Path dir) throws Exception {
        Path p = write(dir, true);
        String s = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1).replace("\"12\"", "\"13\"");
        Files.write(p, s.getBytes(StandardCharsets.ISO_8859_1));
        BadInputException e = assertThrows(BadInputException.class, () -> {
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                f.verify();
            }
        });
        assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
    }
}
