package dev.glimpse.language;

import java.util.stream.IntStream;

/**
 * Symmetric block-wise quantization of a weight matrix [N, K] (rows are output features, as checkpoints store
 * them) into MatMulNBits' layout: codes [N, blocks, blockSize·bits/8] packed low bits first along K, one fp32
 * scale per block, and the operator's default zero point 2^(bits-1). As llama.cpp's Q4_0 / Q8_0 do, the scale maps
 * the block's largest-magnitude value to the lowest code, so the code range is used in full. A final short block
 * is padded with zeros (code = zero point).
 */
final class BlockQuantizer {
    /** The codes and scales of one matrix. */
    record Quantized(byte[] codes, float[] scales, int n, int k, int blocks, int bits, int blockSize) {
        int blobSize() {
            return blockSize * bits / 8;
        }

        /** The value a code stands for, for checks: (code − zero point) × scale. */
        float dequantized(int row, int col) {
            int b = col / blockSize;
            int i = col % blockSize;
            int code;
            int base = (row * blocks + b) * blobSize();
            if (bits == 8) {
                code = codes[base + i] & 0xff;
            } else {
                int byt = codes[base + i / 2] & 0xff;
                code = (i % 2 == 0) ? byt & 0x0f : byt >>> 4;
            }
            return (code - (1 << (bits - 1))) * scales[row * blocks + b];
        }
    }

    private BlockQuantizer() {}

    static Quantized quantize(float[] w, int n, int k, int bits, int blockSize) {
        if (bits != 4 && bits != 8) {
            throw new IllegalArgumentException("MatMulNBits weights are quantized to 4 or 8 bits, not " + bits);
        }
        if (blockSize < 16 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two ≥ 16, not " + blockSize);
        }
        if ((long) n * k != w.length) {
            throw new IllegalArgumentException("weights hold " + w.length + " values, not " + n + "×" + k);
        }
        int blocks = (k + blockSize - 1) / blockSize;
        int blob = blockSize * bits / 8;
        byte[] codes = new byte[Math.multiplyExact(n * blocks, blob)];
        float[] scales = new float[n * blocks];
        int zero = 1 << (bits - 1);
        int maxCode = (1 << bits) - 1;
        IntStream.range(0, n).parallel().forEach(r -> {
            for (int b = 0; b < blocks; b++) {
                int start = r * k + b * blockSize;
                int len = Math.min(blockSize, k - b * blockSize);
                float extreme = 0;
                for (int i = 0; i < len; i++) {
                    float v = w[start + i];
                    if (Math.abs(v) > Math.abs(extreme)) {
                        extreme = v;
                    }
                }
                float scale = extreme / -zero;
                float inv = scale == 0 ? 0 : 1 / scale;
                scales[r * blocks + b] = scale;
                int base = (r * blocks + b) * blob;
                for (int i = 0; i < blockSize; i++) {
                    int code = i < len ? Math.min(maxCode, Math.max(0, Math.round(w[start + i] * inv) + zero)) : zero;
                    if (bits == 8) {
                        codes[base + i] = (byte) code;
                    } else if (i % 2 == 0) {
                        codes[base + i / 2] = (byte) code;
                    } else {
                        codes[base + i / 2] |= (byte) (code << 4);
                    }
                }
            }
        });
        return new Quantized(codes, scales, n, k, blocks, bits, blockSize);
    }
}
