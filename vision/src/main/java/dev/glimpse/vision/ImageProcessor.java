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
        int w = img.getWidth();
        int h = img.getHeight();
        int[] rgb = img.getRGB(0, 0, w, h, null, 0, w);
        if (config.padToSquare() && w != h) {
            int[] bg = new int[3];
            for (int c = 0; c < 3; c++) {
                bg[c] = (int) (config.imageMean()[c] * 255);
            }
            int side = Math.max(w, h);
            int[] sq = new int[side * side];
            Arrays.fill(sq, (bg[0] << 16) | (bg[1] << 8) | bg[2]);
            int ox = (side - w) / 2;
            int oy = (side - h) / 2;
            for (int y = 0; y < h; y++) {
                System.arraycopy(rgb, y * w, sq, (y + oy) * side + ox, w);
            }
            rgb = sq;
            w = side;
            h = side;
        }
        if (config.doResize()) {
            int outW;
            int outH;
            if (config.shortestEdge() > 0) {
                int s = config.shortestEdge();
                // transformers' get_resize_output_image_size(default_to_square=False): int() truncation
                if (w <= h) {
                    outW = s;
                    outH = (int) ((long) s * h / w);
                } else {
                    outH = s;
                    outW = (int) ((long) s * w / h);
                }
            } else {
                outW = config.width();
                outH = config.height();
            }
            if (outW != w || outH != h) {
                rgb = PillowResize.resize(rgb, w, h, outW, outH, filter,
                        backend == ResizeBackend.PILLOW ? PillowResize.Backend.PILLOW : PillowResize.Backend.TORCHVISION);
                w = outW;
                h = outH;
            }
        }
        if (config.doCenterCrop()) {
            int ch = config.cropHeight();
            int cw = config.cropWidth();
            int top = Math.floorDiv(h - ch, 2);
            int left = Math.floorDiv(w - cw, 2);
            int[] out = new int[ch * cw]; // zeros where the crop reaches past a small image, as transformers pads
            if (top < 0 || left < 0) {
                int nh = Math.max(ch, h);
                int nw = Math.max(cw, w);
                int topPad = (int) Math.ceil((nh - h) / 2.0);
                int leftPad = (int) Math.ceil((nw - w) / 2.0);
                int[] padded = new int[nh * nw];
                for (int y = 0; y < h; y++) {
                    System.arraycopy(rgb, y * w, padded, (y + topPad) * nw + leftPad, w);
                }
                rgb = padded;
                top += topPad;
                left += leftPad;
                w = nw;
                h = nh;
                top = Math.floorDiv(h - ch, 2);
                left = Math.floorDiv(w - cw, 2);
            }
            for (int y = 0; y < ch; y++) {
                System.arraycopy(rgb, (y + top) * w + left, out, y * cw, cw);
            }
            rgb = out;
            w = cw;
            h = ch;
        }
        float[] px = new float[3 * h * w];
        double scale = config.doRescale() ? config.rescaleFactor() : 1.0;
        float[] mean = config.imageMean();
        float[] std = config.imageStd();
        for (int c = 0; c < 3; c++) {
            int shift = 16 - 8 * c;
            for (int i = 0; i < h * w; i++) {
                float v = (float) (((rgb[i] >> shift) & 0xff) * scale);
                if (config.doNormalize()) {
                    v = (v - mean[c]) / std[c];
                }
                px[c * h * w + i] = v;
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
