package dev.glimpse.vision;

import dev.glimpse.core.BadInputException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;
import org.w3c.dom.Node;

/**
 * Loads any image a user has — PNG (8/16-bit, palette, grey, alpha), JPEG (CMYK/YCCK, progressive, EXIF
 * orientation), WebP, TIFF, BMP, GIF (first frame) — as 8-bit RGB with alpha composited on white, as transformers'
 * convert_rgb does.
 *
 * <p>Safe on hostile input: dimensions are read from the header before decoding, and images over the pixel limit
 * (decompression bombs) or files over the size limit are refused; truncated or corrupt files give a clear error naming
 * the source, never a hang or an OutOfMemoryError.
 *
 * <p>Immutable and thread-safe.
 */
public final class ImageLoader {
    /** Default pixel limit: 50 megapixels. */
    public static final long DEFAULT_MAX_PIXELS = 50_000_000L;
    /** Default file size limit: 64 MiB. */
    public static final long DEFAULT_MAX_BYTES = 64L << 20;

    static {
        ImageIO.setUseCache(false); // decode in memory; no temp files from untrusted input
        ImageIO.scanForPlugins();
    }

    private final long maxPixels;
    private final long maxBytes;

    public ImageLoader() {
        this(DEFAULT_MAX_PIXELS, DEFAULT_MAX_BYTES);
    }

    public ImageLoader(long maxPixels, long maxBytes) {
        this.maxPixels = maxPixels;
        this.maxBytes = maxBytes;
    }

    public BufferedImage load(Path file) {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": image file not found");
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (size > maxBytes) {
            throw new BadInputException(file + ": " + size + " bytes is over the image size limit of " + maxBytes);
        }
        try {
            return decode(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    public BufferedImage load(byte[] bytes, String name) {
        if (bytes.length > maxBytes) {
            throw new BadInputException(name + ": " + bytes.length + " bytes is over the image size limit of "
                    + maxBytes);
        }
        return decode(bytes, name);
    }

    public BufferedImage load(InputStream in, String name) {
        try {
            byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
            return load(b, name);
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** A base64 string or a {@code data:image/...;base64,} URL. */
    public BufferedImage loadBase64(String data, String name) {
        String b64 = data.strip();
        if (b64.startsWith("data:")) {
            int comma = b64.indexOf(',');
            if (comma < 0 || !b64.substring(0, comma).endsWith(";base64")) {
                throw new BadInputException(name + ": a data URL must be 'data:<type>;base64,<data>'");
            }
            b64 = b64.substring(comma + 1);
        }
        if ((long) b64.length() * 3 / 4 > maxBytes) {
            throw new BadInputException(name + ": encoded image is over the size limit of " + maxBytes + " bytes");
        }
        byte[] bytes;
        try {
            bytes = Base64.getMimeDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(name + ": not valid base64: " + e.getMessage());
        }
        return load(bytes, name);
    }

    /** An image the caller already has, normalised to 8-bit RGB with alpha on white. */
    public BufferedImage load(BufferedImage image) {
        checkPixels(image.getWidth(), image.getHeight(), "image");
        return toRgb(image);
    }

    private void checkPixels(long w, long h, String name) {
        if (w <= 0 || h <= 0) {
            throw new BadInputException(name + ": image has no pixels (" + w + "x" + h + ")");
        }
        if (w * h > maxPixels) {
            throw new BadInputException(name + ": " + w + "x" + h + " = " + w * h + " pixels is over the limit of "
                    + maxPixels + " (decompression bomb guard; raise the limit if the image is trusted)");
        }
    }

    private BufferedImage decode(byte[] bytes, String name) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new BadInputException(name + ": not an image in a supported format (PNG, JPEG, WebP, TIFF,"
                        + " BMP, GIF)");
            }
            ImageReader reader = readers.next();
            List<String> warnings = new ArrayList<>();
            try {
                reader.setInput(in, true, false);
                reader.addIIOReadWarningListener(new IIOReadWarningListener() {
                    @Override
                    public void warningOccurred(ImageReader source, String warning) {
                        warnings.add(warning);
                    }
                });
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                checkPixels(w, h, name);
                ImageReadParam param = reader.getDefaultReadParam();
                BufferedImage img = reader.read(0, param);
                for (String warn : warnings) {
                    String lw = warn.toLowerCase(java.util.Locale.ROOT);
                    if (lw.contains("premature") || lw.contains("truncat") || lw.contains("corrupt")) {
                        throw new BadInputException(name + ": truncated or corrupt image (" + warn + ")");
                    }
                }
                int orientation = "jpeg".equalsIgnoreCase(reader.getFormatName()) ? exifOrientation(reader) : 1;
                return orient(toRgb(img), orientation);
            } finally {
                reader.dispose();
            }
        } catch (BadInputException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(name + ": truncated or corrupt image (" + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
        } catch (OutOfMemoryError e) {
            throw new BadInputException(name + ": image too large to decode in the memory available");
        }
    }

    /** 8-bit RGB; alpha composited on white with Pillow's integer arithmetic (alpha_composite). */
    static BufferedImage toRgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        java.awt.image.ColorModel cm = img.getColorModel();
        if (img.getType() == BufferedImage.TYPE_INT_RGB) {
            return img;
        }
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[w];
        if (cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY
                && !(cm instanceof java.awt.image.IndexColorModel)) {
            // read grey levels from the raster: getRGB would apply a linear-to-sRGB curve to them
            var raster = img.getRaster();
            int grayMax = (1 << cm.getComponentSize(0)) - 1;
            int alphaMax = cm.hasAlpha() ? (1 << cm.getComponentSize(1)) - 1 : 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int g = scale8(raster.getSample(x, y, 0), grayMax);
                    int a = cm.hasAlpha() ? scale8(raster.getSample(x, y, 1), alphaMax) : 255;
                    row[x] = onWhite((a << 24) | (g << 16) | (g << 8) | g);
                }
                out.setRGB(0, y, w, 1, row, 0, w);
            }
            return out;
        }
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                row[x] = cm.hasAlpha() ? onWhite(row[x]) : row[x] & 0xffffff;
            }
            out.setRGB(0, y, w, 1, row, 0, w);
        }
        return out;
    }

    private static int scale8(int v, int max) {
        return max == 255 ? v : (int) ((v * 255L + max / 2) / max);
    }

    /** Pillow's alpha_composite(white, pixel) for one ARGB pixel (libImaging/AlphaComposite.c). */
    static int onWhite(int argb) {
        int a = argb >>> 24;
        if (a == 255) {
            return argb & 0xffffff;
        }
        if (a == 0) {
            return 0xffffff;
        }
        final int precision = 7;
        long blend = 255L * (255 - a);
        long outa255 = a * 255L + blend;
        long coef1 = a * 255L * 255L * (1 << precision) / outa255;
        long coef2 = 255L * (1 << precision) - coef1;
        int rgb = 0;
        for (int shift = 16; shift >= 0; shift -= 8) {
            int src = (argb >> shift) & 0xff;
            long tmp = src * coef1 + 255 * coef2 + (0x80L << precision);
            long v = ((tmp >> 8) + tmp) >> 8;
            rgb |= (int) ((v >> precision) & 0xff) << shift;
        }
        return rgb;
    }

    /** EXIF orientation (1..8) from a JPEG's APP1 segment, 1 when absent. */
    private static int exifOrientation(ImageReader reader) {
        try {
            IIOMetadata meta = reader.getImageMetadata(0);
            if (meta == null || !java.util.Arrays.asList(meta.getMetadataFormatNames())
                    .contains("javax_imageio_jpeg_image_1.0")) {
                return 1;
            }
            Node root = meta.getAsTree("javax_imageio_jpeg_image_1.0");
            for (Node seq = root.getFirstChild(); seq != null; seq = seq.getNextSibling()) {
                if (!"markerSequence".equals(seq.getNodeName())) {
                    continue;
                }
                for (Node m = seq.getFirstChild(); m != null; m = m.getNextSibling()) {
                    if ("unknown".equals(m.getNodeName()) && m.getAttributes().getNamedItem("MarkerTag") != null
                            && "225".equals(m.getAttributes().getNamedItem("MarkerTag").getNodeValue())
                            && m instanceof javax.imageio.metadata.IIOMetadataNode n
                            && n.getUserObject() instanceof byte[] data) {
                        int o = Exif.orientation(data);
                        if (o > 0) {
                            return o;
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return 1; // unreadable metadata: show the image as stored
        }
        return 1;
    }

    /** Applies an EXIF orientation so the image appears as the camera meant. */
    static BufferedImage orient(BufferedImage img, int orientation) {
        if (orientation <= 1 || orientation > 8) {
            return img;
        }
        int w = img.getWidth();
        int h = img.getHeight();
        boolean swap = orientation >= 5;
        BufferedImage out = new BufferedImage(swap ? h : w, swap ? w : h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int nx;
                int ny;
                switch (orientation) {
                    case 2 -> { nx = w - 1 - x; ny = y; }
                    case 3 -> { nx = w - 1 - x; ny = h - 1 - y; }
                    case 4 -> { nx = x; ny = h - 1 - y; }
                    case 5 -> { nx = y; ny = x; }
                    case 6 -> { nx = h - 1 - y; ny = x; }
                    case 7 -> { nx = h - 1 - y; ny = w - 1 - x; }
                    default -> { nx = y; ny = w - 1 - x; } // 8
                }
                out.setRGB(nx, ny, img.getRGB(x, y));
            }
        }
        return out;
    }

    /** Minimal EXIF reader: the Orientation tag (0x0112) of IFD0. */
    static final class Exif {
        private Exif() {}

        static int orientation(byte[] app1) {
            // "Exif\0\0" then a TIFF header
            if (app1.length < 14 || app1[0] != 'E' || app1[1] != 'x' || app1[2] != 'i' || app1[3] != 'f') {
                return 0;
            }
            int t = 6;
            boolean le = app1[t] == 'I';
            int ifd = (int) read(app1, t + 4, 4, le);
            int p = t + ifd;
            if (p + 2 > app1.length) {
                return 0;
            }
            int n = (int) read(app1, p, 2, le);
            for (int i = 0; i < n; i++) {
                int e = p + 2 + i * 12;
                if (e + 12 > app1.length) {
                    return 0;
                }
                if (read(app1, e, 2, le) == 0x0112) {
                    return (int) read(app1, e + 8, 2, le);
                }
            }
            return 0;
        }

        private static long read(byte[] b, int off, int len, boolean le) {
            long v = 0;
            for (int i = 0; i < len; i++) {
                int byteVal = b[off + (le ? len - 1 - i : i)] & 0xff;
                v = (v << 8) | byteVal;
            }
            return v;
        }
    }
}
