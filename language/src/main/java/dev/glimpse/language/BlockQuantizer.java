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
    /**
     * The codes and scales of one matrix, and its zero points (packed as MatMulNBits reads them: one byte per block
     * at 8 bits, two per byte at 4), or null for the operator's default 2^(bits-1).
     */
    record Quantized(byte[] codes, float[] scales, byte[] zeroPoints, int n, int k, int blocks, int bits,
                     int blockSize) {
        int blobSize() {
            return blockSize * bits / 8;
        }

        /**
         * The same 8-bit matrix as a 4-bit one of 2N rows whose two halves sum to it: code c = 16·hi + lo, so
         * (c − 128)·s = (hi − 8)·16s + (lo − 0)·s. Row r of the result is hi of row r (scale 16s, zero point 8),
         * row N + r is lo (scale s, zero point 0). Exact: ONNX Runtime 1.29 has a fast 4-bit kernel with fp32
         * activations (accuracy level 1) but none for 8 bits, which it dequantizes whole on every call.
         */
        Quantized nibbles() {
            if (bits != 8 || zeroPoints != null) {
                throw new IllegalStateException("only 8-bit codes with the default zero point split into nibbles");
            }
            int blob = blockSize / 2;
            byte[] c4 = new byte[2 * n * blocks * blob];
            float[] s4 = new float[2 * n * blocks];
            int zpBytes = (blocks + 1) / 2;
            byte[] zp = new byte[2 * n * zpBytes];
            for (int r = 0; r < n; r++) {
                for (int b = 0; b < blocks; b++) {
                    int block = r * blocks + b;
                    s4[block] = 16 * scales[block];
                    s4[n * blocks + block] = scales[block];
                    for (int i = 0; i < blockSize; i += 2) {
                        int c0 = codes[block * blockSize + i] & 0xff;
                        int c1 = codes[block * blockSize + i + 1] & 0xff;
                        c4[block * blob + i / 2] = (byte) ((c0 >>> 4) | (c1 >>> 4) << 4);
                        c4[(n * blocks + block) * blob + i / 2] = (byte) ((c0 & 0x0f) | (c1 & 0x0f) << 4);
                    }
                }
                java.util.Arrays.fill(zp, r * zpBytes, (r + 1) * zpBytes, (byte) 0x88);
            }
            return new Quantized(c4, s4, zp, 2 * n, k, blocks, 4, blockSize);
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
            int zero = 1 << (bits - 1);
            if (zeroPoints != null) {
                int z = bits == 8 ? zeroPoints[row * blocks + b] & 0xff
                        : zeroPoints[row * ((blocks + 1) / 2) + b / 2] >>> (b % 2 == 0 ? 0 : 4) & 0x0f;
                zero = z;
            }
            return (code - zero) * scales[row * blocks + b];
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
        return new Quantized(codes, scales, null, n, k, blocks, bits, blockSize);
    }
}
