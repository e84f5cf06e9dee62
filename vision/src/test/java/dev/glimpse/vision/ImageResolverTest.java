package dev.glimpse.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.BadInputException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Base64;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One policy for image references, whichever API sends them. */
class ImageResolverTest {
    static final ImageLoader LOADER = new ImageLoader(1_000_000, 1 << 20);

    static byte[] png() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(5, 4, BufferedImage.TYPE_INT_RGB), "png", out);
        return out.toByteArray();
    }

    @Test
    void dataAndBase64AlwaysFilesAndRemoteOnlyWhereAllowed(@TempDir Path dir) throws Exception {
        ImageResolver strict = new ImageResolver(LOADER, false, false, "start with --allow-remote-images");
        String b64 = Base64.getEncoder().encodeToString(png());
        assertEquals(5, strict.resolve("data:image/png;base64," + b64, "f").getWidth());
        assertEquals(4, strict.resolve(b64, "f").getHeight());

        BadInputException e = assertThrows(BadInputException.class, () -> strict.resolve("https://x.test/a.png",
                "messages[0].content[1].image_url"));
        assertTrue(e.getMessage().startsWith("'messages[0].content[1].image_url': remote image URLs are refused"
                + " (start with --allow-remote-images)"), e.getMessage());
        Path file = dir.resolve("a.png");
        java.nio.file.Files.write(file, png());
        e = assertThrows(BadInputException.class, () -> strict.resolve(file.toUri().toString(), "img"));
        assertTrue(e.getMessage().contains("'img': file URLs are refused"), e.getMessage());
        assertEquals(5, new ImageResolver(LOADER, true, false, "").resolve(file.toUri().toString(), "img").getWidth());

        e = assertThrows(BadInputException.class, () -> strict.resolve("not an image!", "img"));
        assertTrue(e.getMessage().startsWith("'img': "), e.getMessage());
    }
}
