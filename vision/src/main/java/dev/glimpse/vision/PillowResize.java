package dev.glimpse.vision;

/**
 * Pillow's 8-bit resampling (libImaging/Resample.c), ported so that pixel values match the Python processors that
 * towers were trained with: separable convolution with the filter's support scaled by the downscale factor
 * (antialiasing), fixed-point coefficients, horizontal pass first into an 8-bit intermediate image, then the
 * vertical pass.
 *
 * <p>Two precisions: Pillow's fixed 22 fractional bits, and torchvision's uint8 antialias kernel (what transformers
 * 5 processors run), which stores weights as int16 with as many fractional bits as the axis' largest weight allows.
 * The two differ by one level in a few pixels.
 */
final class PillowResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    /** Whose fixed-point arithmetic to reproduce. */
    enum Backend { PILLOW, TORCHVISION }

    private PillowResize() {}

    /** Pillow's filter ids as stored in preprocessor_config.json ("resample"). */
    enum Filter {
        NEAREST(0, 0), LANCZOS(1, 3.0), BILINEAR(2, 1.0), BICUBIC(3, 2.0), BOX(4, 0.5), HAMMING(5, 1.0);

        final int id;
        final double support;

        Filter(int id, double support) {
            this.id = id;
            this.support = support;
        }

        static Filter of(int id) {
            for (Filter f : values()) {
                if (f.id == id) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown resample filter " + id);
        }

        double apply(double x) {
            switch (this) {
                case BOX -> {
                    return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
                }
                case BILINEAR -> {
                    x = Math.abs(x);
                    return x < 1.0 ? 1.0 - x : 0.0;
                }
                case HAMMING -> {
                    x = Math.abs(x);
                    if (x == 0.0) {
                        return 1.0;
                    }
                    if (x >= 1.0) {
                        return 0.0;
                    }
                    x = x * Math.PI;
                    return Math.sin(x) / x * (0.54 + 0.46 * Math.cos(x));
                }
                case BICUBIC -> {
                    final double a = -0.5;
                    x = Math.abs(x);
                    if (x < 1.0) {
                        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                    }
                    if (x < 2.0) {
                        return (((x - 5) * x + 8) * x - 4) * a;
                    }
                    return 0.0;
                }
                case LANCZOS -> {
                    if (x > -3.0 && x < 3.0) {
                        return sinc(x) * sinc(x / 3.0);
                    }
                    return 0.0;
                }
                default -> throw new IllegalStateException();
            }
        }

        private static double sinc(double x) {
            if (x == 0.0) {
                return 1.0;
            }
            x = x * Math.PI;
            return Math.sin(x) / x;
        }
    }

    /** Coefficients of one axis: per output index its first input index, count and fixed-point weights. */
    private record Coeffs(int ksize, int[] bounds, int[] kk, int precision) {}

    private static Coeffs precompute(int inSize, int outSize, Filter filter, Backend backend) {
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = filter.support * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        double[] weights = new double[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ww = 0.0;
            double ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) {
                xmin = 0;
            }
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) {
                xmax = inSize;
            }
            xmax -= xmin;
            for (int x = 0; x < xmax; x++) {
                double w = filter.apply((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < ksize; x++) {
                weights[xx * ksize + x] = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        int precision = PRECISION_BITS;
        if (backend == Backend.TORCHVISION) {
            double max = weights[0];
            for (double w : weights) {
                max = Math.max(max, w);
            }
            for (precision = 0; precision < 22; precision++) {
                int next = (int) (0.5 + max * (1 << (precision + 1)));
                if (next >= (1 << 15)) {
                    break;
                }
            }
        }
        int[] kk = new int[weights.length];
        for (int i = 0; i < weights.length; i++) {
            double v = weights[i] * (1 << precision);
            kk[i] = v < 0 ? (int) (-0.5 + v) : (int) (0.5 + v);
        }
        return new Coeffs(ksize, bounds, kk, precision);
    }

    private static int clip8(int v, int precision) {
        int s = v >> precision;
        return s < 0 ? 0 : Math.min(s, 255);
    }

    /**
     * Resizes packed RGB pixels ({@code 0xRRGGBB}, row-major {@code w×h}) to {@code outW×outH}.
     */
    static int[] resize(int[] rgb, int w, int h, int outW, int outH, Filter filter, Backend backend) {
        if (filter == Filter.NEAREST) {
            return nearest(rgb, w, h, outW, outH);
        }
        int[] cur = rgb;
        int curW = w;
        if (outW != w) {
            Coeffs c = precompute(w, outW, filter, backend);
            int[] out = new int[outW * h];
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < outW; xx++) {
                    int xmin = c.bounds[xx * 2];
                    int xmax = c.bounds[xx * 2 + 1];
                    int s0 = 1 << (c.precision - 1);
                    int s1 = s0;
                    int s2 = s0;
                    for (int x = 0; x < xmax; x++) {
                        int p = cur[y * curW + xmin + x];
                        int k = c.kk[xx * c.ksize + x];
                        s0 += ((p >> 16) & 0xff) * k;
                        s1 += ((p >> 8) & 0xff) * k;
                        s2 += (p & 0xff) * k;
                    }
                    out[y * outW + xx] = (clip8(s0, c.precision) << 16) | (clip8(s1, c.precision) << 8) | clip8(s2, c.precision);
                }
            }
            cur = out;
            curW = outW;
        }
        if (outH != h) {
            Coeffs c = precompute(h, outH, filter, backend);
            int[] out = new int[curW * outH];
            for (int yy = 0; yy < outH; yy++) {
                int ymin = c.bounds[yy * 2];
                int ymax = c.bounds[yy * 2 + 1];
                for (int x = 0; x < curW; x++) {
                    int s0 = 1 << (c.precision - 1);
                    int s1 = s0;
                    int s2 = s0;
                    for (int y = 0; y < ymax; y++) {
                        int p = cur[(ymin + y) * curW + x];
                        int k = c.kk[yy * c.ksize + y];
                        s0 += ((p >> 16) & 0xff) * k;
                        s1 += ((p >> 8) & 0xff) * k;
                        s2 += (p & 0xff) * k;
                    }
                    out[yy * curW + x] = (clip8(s0, c.precision) << 16) | (clip8(s1, c.precision) << 8) | clip8(s2, c.precision);
                }
            }
            cur = out;
        }
        return cur == rgb ? rgb.clone() : cur;
    }

    private static int[] nearest(int[] rgb, int w, int h, int outW, int outH) {
        int[] out = new int[outW * outH];
        double sx = (double) w / outW;
        double sy = (double) h / outH;
        for (int y = 0; y < outH; y++) {
            int iy = Math.min(h - 1, (int) ((y + 0.5) * sy));
            for (int x = 0; x < outW; x++) {
                int ix = Math.min(w - 1, (int) ((x + 0.5) * sx));
                out[y * outW + x] = rgb[iy * w + ix];
            }
        }
        return out;
    }
}
