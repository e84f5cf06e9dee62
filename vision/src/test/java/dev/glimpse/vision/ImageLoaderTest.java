package dev.glimpse.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.TestData;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageLoaderTest {
    final ImageLoader loader = new ImageLoader();

    static byte[] encode(BufferedImage img, String format) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out), "a writer for " + format);
        return out.toByteArray();
    }

    static BufferedImage pattern(int type, int w, int h) {
        BufferedImage img = new BufferedImage(w, h, type);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, 0xff000000 | ((x * 20) << 16) | ((y * 30) << 8) | 0x40);
            }
        }
        return img;
    }

    @Test
    void pngVariantsBecomeEightBitRgb() throws Exception {
        BufferedImage rgb = pattern(BufferedImage.TYPE_INT_RGB, 8, 6);
        BufferedImage got = loader.load(encode(rgb, "png"), "rgb.png");
        assertEquals(BufferedImage.TYPE_INT_RGB, got.getType());
        assertEquals(rgb.getRGB(3, 2) & 0xffffff, got.getRGB(3, 2) & 0xffffff);
        // 8-bit grey keeps its levels (no linear-to-sRGB shift)
        BufferedImage grey = new BufferedImage(4, 4, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(1, 1, 0, 100);
        assertEquals(0x646464, loader.load(encode(grey, "png"), "grey.png").getRGB(1, 1) & 0xffffff);
        // 16-bit grey scales to 8 bits
        BufferedImage grey16 = new BufferedImage(4, 4, BufferedImage.TYPE_USHORT_GRAY);
        grey16.getRaster().setSample(2, 2, 0, 65535);
        grey16.getRaster().setSample(1, 2, 0, 257 * 100);
        BufferedImage g16 = loader.load(encode(grey16, "png"), "grey16.png");
        assertEquals(0xffffff, g16.getRGB(2, 2) & 0xffffff);
        assertEquals(0x646464, g16.getRGB(1, 2) & 0xffffff);
        // palette
        IndexColorModel icm = new IndexColorModel(8, 2, new byte[] {0, (byte) 255}, new byte[] {0, 0},
                new byte[] {0, (byte) 200});
        BufferedImage pal = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_INDEXED, icm);
        pal.getRaster().setSample(1, 0, 0, 1);
        assertEquals(0xff00c8, loader.load(encode(pal, "png"), "pal.png").getRGB(1, 0) & 0xffffff);
    }

    @Test
    void alphaIsCompositedOnWhiteAsPillowDoes() throws Exception {
        BufferedImage argb = new BufferedImage(3, 1, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(0, 0, 0x00123456); // fully transparent: white
        argb.setRGB(1, 0, 0xff123456); // opaque: unchanged
        argb.setRGB(2, 0, 0x801478c8); // half: Pillow's alpha_composite over white gives (137, 187, 227)
        BufferedImage got = loader.load(encode(argb, "png"), "a.png");
        assertEquals(0xffffff, got.getRGB(0, 0) & 0xffffff);
        assertEquals(0x123456, got.getRGB(1, 0) & 0xffffff);
        int p = got.getRGB(2, 0);
        assertEquals(137, (p >> 16) & 0xff);
        assertEquals(187, (p >> 8) & 0xff);
        assertEquals(227, p & 0xff);
        // the fixture image with real transparency
        BufferedImage fix = loader.load(TestData.fixture("images").resolve("synthetic_rgba.png"));
        assertEquals(0xffffff, fix.getRGB(0, 0) & 0xffffff);
    }

    @Test
    void jpegBmpGifTiffDecode() throws Exception {
        BufferedImage rgb = pattern(BufferedImage.TYPE_INT_RGB, 16, 12);
        for (String fmt : new String[] {"jpeg", "bmp", "gif", "tiff"}) {
            BufferedImage got = loader.load(encode(fmt.equals("gif") ? toIndexed(rgb) : rgb, fmt), "x." + fmt);
            assertEquals(16, got.getWidth(), fmt);
            assertEquals(12, got.getHeight(), fmt);
            int want = rgb.getRGB(5, 5);
            int have = got.getRGB(5, 5);
            for (int s = 0; s <= 16; s += 8) {
                assertTrue(Math.abs(((want >> s) & 0xff) - ((have >> s) & 0xff)) <= (fmt.equals("bmp")
                        || fmt.equals("tiff") ? 0 : 40), fmt + " channel " + s);
            }
        }
    }

    static BufferedImage toIndexed(BufferedImage img) {
        BufferedImage out = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_BYTE_INDEXED);
        out.getGraphics().drawImage(img, 0, 0, null);
        return out;
    }

    @Test
    void exifOrientationIsApplied() throws Exception {
        BufferedImage wide = new BufferedImage(8, 4, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 8; x++) {
                wide.setRGB(x, y, x < 4 ? 0xff0000 : 0x0000ff);
            }
        }
        byte[] jpeg = encode(wide, "jpeg");
        byte[] rotated = withExifOrientation(jpeg, 6); // 6: rotate 90° clockwise to display
        BufferedImage got = loader.load(rotated, "rot.jpg");
        assertEquals(4, got.getWidth());
        assertEquals(8, got.getHeight());
        // the left (red) half of the stored image ends up on top
        assertTrue(((got.getRGB(2, 1) >> 16) & 0xff) > 200, Integer.toHexString(got.getRGB(2, 1)));
        assertTrue((got.getRGB(2, 6) & 0xff) > 200, Integer.toHexString(got.getRGB(2, 6)));
        assertEquals(8, loader.load(jpeg, "plain.jpg").getWidth());
    }

    /** Inserts an APP1 Exif segment with IFD0 Orientation after SOI. */
    static byte[] withExifOrientation(byte[] jpeg, int orientation) {
        ByteBuffer tiff = ByteBuffer.allocate(26);
        tiff.put(new byte[] {'M', 'M', 0, 42, 0, 0, 0, 8}); // big-endian TIFF header, IFD0 at 8
        tiff.putShort((short) 1); // one entry
        tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        tiff.putInt(0);
        byte[] exif = new byte[6 + tiff.position()];
        System.arraycopy(new byte[] {'E', 'x', 'i', 'f', 0, 0}, 0, exif, 0, 6);
        System.arraycopy(tiff.array(), 0, exif, 6, tiff.position());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        out.write(0xff);
        out.write(0xe1);
        int len = exif.length + 2;
        out.write(len >> 8);
        out.write(len & 0xff);
        out.write(exif, 0, exif.length);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    @Test
    void decompressionBombsAndOversizedFilesAreRefusedBeforeDecoding(@TempDir Path dir) throws Exception {
        byte[] png = encode(pattern(BufferedImage.TYPE_INT_RGB, 4, 4), "png");
        byte[] bomb = withPngSize(png, 100_000, 100_000);
        BadInputException e = assertThrows(BadInputException.class, () -> loader.load(bomb, "bomb.png"));
        assertTrue(e.getMessage().contains("100000x100000") && e.getMessage().contains("decompression bomb"),
                e.getMessage());
        ImageLoader small = new ImageLoader(10, 1 << 20);
        e = assertThrows(BadInputException.class, () -> small.load(png, "tiny.png"));
        assertTrue(e.getMessage().contains("16 pixels is over the limit of 10"));
        Path f = dir.resolve("big.png");
        Files.write(f, new byte[2000]);
        e = assertThrows(BadInputException.class, () -> new ImageLoader(100, 1000).load(f));
        assertTrue(e.getMessage().contains("over the image size limit"), e.getMessage());
    }

    static byte[] withPngSize(byte[] png, int w, int h) {
        byte[] b = png.clone();
        ByteBuffer bb = ByteBuffer.wrap(b);
        bb.putInt(16, w).putInt(20, h); // IHDR data starts at 16
        CRC32 crc = new CRC32();
        crc.update(b, 12, 17); // "IHDR" + 13 bytes
        bb.putInt(29, (int) crc.getValue());
        return b;
    }

    @Test
    void truncatedAndCorruptFilesNameTheSource(@TempDir Path dir) throws Exception {
        byte[] png = encode(pattern(BufferedImage.TYPE_INT_RGB, 64, 64), "png");
        byte[] half = java.util.Arrays.copyOf(png, png.length / 2);
        BadInputException e = assertThrows(BadInputException.class, () -> loader.load(half, "half.png"));
        assertTrue(e.getMessage().startsWith("half.png: truncated or corrupt"), e.getMessage());
        byte[] jpeg = encode(pattern(BufferedImage.TYPE_INT_RGB, 64, 64), "jpeg");
        byte[] jhalf = java.util.Arrays.copyOf(jpeg, jpeg.length / 2);
        e = assertThrows(BadInputException.class, () -> loader.load(jhalf, "half.jpg"));
        assertTrue(e.getMessage().startsWith("half.jpg: truncated or corrupt"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> loader.load("hello world".getBytes(), "text.txt"));
        assertTrue(e.getMessage().contains("not an image in a supported format"));
        e = assertThrows(BadInputException.class, () -> loader.load(dir.resolve("missing.png")));
        assertTrue(e.getMessage().contains("missing.png: image file not found"));
    }

    @Test
    void base64AndDataUrls() throws Exception {
        byte[] png = encode(pattern(BufferedImage.TYPE_INT_RGB, 5, 5), "png");
        String b64 = Base64.getEncoder().encodeToString(png);
        assertEquals(5, loader.loadBase64(b64, "b64").getWidth());
        assertEquals(5, loader.loadBase64("data:image/png;base64," + b64, "url").getWidth());
        assertThrows(BadInputException.class, () -> loader.loadBase64("data:image/png," + b64, "url"));
        BadInputException e = assertThrows(BadInputException.class, () -> loader.loadBase64("***", "bad"));
        assertTrue(e.getMessage().startsWith("bad:"));
        assertEquals(5, loader.load(new java.io.ByteArrayInputStream(png), "stream").getWidth());
    }

    /** Files made with cwebp and ImageMagick (see src/test/resources/images): every format close to base.png. */
    @Test
    void webpCmykProgressiveAnd16BitFiles() throws Exception {
        Path dir = Path.of("src/test/resources/images");
        BufferedImage base = loader.load(dir.resolve("base.png"));
        String[][] cases = {{"lossless.webp", "0"}, {"lossy.webp", "40"}, {"progressive.jpg", "40"},
            {"cmyk.jpg", "60"}, {"rgb16.png", "1"}};
        for (String[] c : cases) {
            BufferedImage got = loader.load(dir.resolve(c[0]));
            assertEquals(BufferedImage.TYPE_INT_RGB, got.getType(), c[0]);
            assertEquals(24, got.getWidth(), c[0]);
            assertEquals(16, got.getHeight(), c[0]);
            int worst = 0;
            for (int y = 0; y < 16; y++) {
                for (int x = 0; x < 24; x++) {
                    for (int s = 0; s <= 16; s += 8) {
                        worst = Math.max(worst, Math.abs(((base.getRGB(x, y) >> s) & 0xff)
                                - ((got.getRGB(x, y) >> s) & 0xff)));
                    }
                }
            }
            assertTrue(worst <= Integer.parseInt(c[1]), c[0] + " differs from base.png by " + worst);
        }
        // 50 % alpha over white lightens every pixel
        BufferedImage half = loader.load(dir.resolve("half-alpha.png"));
        int p = half.getRGB(2, 2);
        assertTrue(((p >> 8) & 0xff) > 100 && (p & 0xff) > 100, Integer.toHexString(p));
    }
}
