package dev.glimpse.vision;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.PreprocessorConfig;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Turns an RGB image into a tower's {@code pixel_values} [3, H, W] exactly as its Hugging Face image processor does
 * (driven by preprocessor_config.json): optional pad-to-square with the mean colour (LLaVA), resize (shortest edge
 * for CLIP, fixed size for SigLIP/ViT) with Pillow's resampling, center crop, rescale, normalise.
 *
 * <p>Immutable and thread-safe.
 */
public final class ImageProcessor {
    /**
     * Whose resize arithmetic to reproduce: torchvision's (transformers 5 processors) or Pillow's (older
     * transformers, and processors documented as Pillow-based). They differ by one 8-bit level in a few pixels.
     */
    public enum ResizeBackend { TORCHVISION, PILLOW }

    private final PreprocessorConfig config;
    private final PillowResize.Filter filter;
    private final ResizeBackend backend;

    /** A processor with transformers 5's arithmetic (torchvision) unless the config documents Pillow. */
    public ImageProcessor(PreprocessorConfig config) {
        this(config, config.pillowResize() ? ResizeBackend.PILLOW : ResizeBackend.TORCHVISION);
    }

    public ImageProcessor(PreprocessorConfig config, ResizeBackend backend) {
        this.config = config;
        this.backend = backend;
        try {
            this.filter = PillowResize.Filter.of(config.resample());
        } catch (IllegalArgumentException e) {
            throw new BadInputException("preprocessor_config.json: field 'resample' is " + config.resample()
                    + ", expected a Pillow filter id 0-5");
        }
    }

    /** Reads preprocessor_config.json from a model directory (or the file itself). */
    public static ImageProcessor read(Path dirOrFile) {
        return new ImageProcessor(PreprocessorConfig.read(dirOrFile));
    }

    public PreprocessorConfig config() {
        return config;
    }

    /** Output height. */
    public int height() {
        return config.doCenterCrop() ? config.cropHeight() : config.shortestEdge() > 0 ? -1 : config.height();
    }

    /** Output width. */
    public int width() {
        return config.doCenterCrop() ? config.cropWidth() : config.shortestEdge() > 0 ? -1 : config.width();
    }

    /** A short description that changes whenever the output would (used to invalidate feature caches). */
    public String fingerprint() {
        return String.format(Locale.ROOT, "resize=%b,edge=%d,h=%d,w=%d,filter=%d,crop=%b,%dx%d,rescale=%b,%s,"
                + "norm=%b,%s,%s,pad=%b,%s", config.doResize(), config.shortestEdge(), config.height(), config.width(),
                config.resample(), config.doCenterCrop(), config.cropHeight(), config.cropWidth(), config.doRescale(),
                config.rescaleFactor(), config.doNormalize(), Arrays.toString(config.imageMean()),
                Arrays.toString(config.imageStd()), config.padToSquare(), backend);
    }

    /** pixel_values [3, H, W] (channel-first) of one 8-bit RGB image. */
    public float[] pixelValues(BufferedImage image) {
        BufferedImage img = ImageLoader.toRgb(image);
        Raster r = new Raster(img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth()),
                img.getWidth(), img.getHeight());
        if (config.padToSquare() && r.w != r.h) {
            r = padToSquare(r);
        }
        if (config.doResize()) {
            r = resize(r);
        }
        if (config.doCenterCrop()) {
            r = centerCrop(r);
        }
        return normalize(r);
    }

    /** Packed 0xRRGGBB pixels, row-major, of a w × h image. */
    private record Raster(int[] rgb, int w, int h) {}

    /** LLaVA's expand2square: centred on a square of the mean colour. */
    private Raster padToSquare(Raster r) {
        int[] bg = new int[3];
        for (int c = 0; c < 3; c++) {
            bg[c] = (int) (config.imageMean()[c] * 255);
        }
        int side = Math.max(r.w, r.h);
        int[] sq = new int[side * side];
        Arrays.fill(sq, (bg[0] << 16) | (bg[1] << 8) | bg[2]);
        int ox = (side - r.w) / 2;
        int oy = (side - r.h) / 2;
        for (int y = 0; y < r.h; y++) {
            System.arraycopy(r.rgb, y * r.w, sq, (y + oy) * side + ox, r.w);
        }
        return new Raster(sq, side, side);
    }

    /** To the shortest edge (aspect kept, as transformers truncates) or to the fixed size. */
    private Raster resize(Raster r) {
        int outW;
        int outH;
        if (config.shortestEdge() > 0) {
            int s = config.shortestEdge();
            // transformers' get_resize_output_image_size(default_to_square=False): int() truncation
            if (r.w <= r.h) {
                outW = s;
                outH = (int) ((long) s * r.h / r.w);
            } else {
                outH = s;
                outW = (int) ((long) s * r.w / r.h);
            }
        } else {
            outW = config.width();
            outH = config.height();
        }
        if (outW == r.w && outH == r.h) {
            return r;
        }
        return new Raster(PillowResize.resize(r.rgb, r.w, r.h, outW, outH, filter,
                backend == ResizeBackend.PILLOW ? PillowResize.Backend.PILLOW : PillowResize.Backend.TORCHVISION),
                outW, outH);
    }

    /** The centre crop; zeros where the crop reaches past a small image, as transformers pads. */
    private Raster centerCrop(Raster r) {
        int ch = config.cropHeight();
        int cw = config.cropWidth();
        if (r.h < ch || r.w < cw) {
            int nh = Math.max(ch, r.h);
            int nw = Math.max(cw, r.w);
            int topPad = (int) Math.ceil((nh - r.h) / 2.0);
            int leftPad = (int) Math.ceil((nw - r.w) / 2.0);
            int[] padded = new int[nh * nw];
            for (int y = 0; y < r.h; y++) {
                System.arraycopy(r.rgb, y * r.w, padded, (y + topPad) * nw + leftPad, r.w);
            }
            r = new Raster(padded, nw, nh);
        }
        int top = Math.floorDiv(r.h - ch, 2);
        int left = Math.floorDiv(r.w - cw, 2);
        int[] out = new int[ch * cw];
        for (int y = 0; y < ch; y++) {
            System.arraycopy(r.rgb, (y + top) * r.w + left, out, y * cw, cw);
        }
        return new Raster(out, cw, ch);
    }

    /** Channel-first floats: rescaled, then normalised by the mean and std. */
    private float[] normalize(Raster r) {
        int n = r.h * r.w;
        float[] px = new float[3 * n];
        double scale = config.doRescale() ? config.rescaleFactor() : 1.0;
        float[] mean = config.imageMean();
        float[] std = config.imageStd();
        for (int c = 0; c < 3; c++) {
            int shift = 16 - 8 * c;
            for (int i = 0; i < n; i++) {
                float v = (float) (((r.rgb[i] >> shift) & 0xff) * scale);
                if (config.doNormalize()) {
                    v = (v - mean[c]) / std[c];
                }
                px[c * n + i] = v;
            }
        }
        return px;
    }

    /** Output size [H, W] for an image of the given size (before cropping rules that fix it). */
    public int[] outputSize(int width, int height) {
        if (config.doCenterCrop()) {
            return new int[] {config.cropHeight(), config.cropWidth()};
        }
        if (!config.doResize()) {
            return new int[] {height, width};
        }
        if (config.shortestEdge() > 0) {
            int s = config.shortestEdge();
            return width <= height ? new int[] {(int) ((long) s * height / width), s}
                    : new int[] {s, (int) ((long) s * width / height)};
        }
        return new int[] {config.height(), config.width()};
    }
}
