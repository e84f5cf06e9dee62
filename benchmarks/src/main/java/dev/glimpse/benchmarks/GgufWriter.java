package dev.glimpse.benchmarks;

import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.LanguageModelConfig;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Writes a Qwen2-architecture checkpoint as a llama.cpp GGUF file (v3) so the benchmark can run llama.cpp on the
 * very weights Glimpse runs: Q4_0 matrices (blocks of 32: an fp16 scale and 16 bytes of nibbles, as llama.cpp's
 * quantize_row_q4_0), the embedding (which a tied model also uses as its output) at Q8_0, norms and biases in fp32.
 * The vocabulary is a stand-in (GPT-2's 256 byte symbols, one merge, placeholders): random-weight models are
 * timed, not read. Benchmark-only code.
 */
final class GgufWriter {
    private static final int ALIGN = 32;
    private static final int F32 = 0;
    private static final int Q4_0 = 2;
    private static final int Q8_0 = 8;

    private record Tensor(String name, String key, long[] ne, int type) {
        long bytes() {
            long n = 1;
            for (long d : ne) {
                n *= d;
            }
            return switch (type) {
                case F32 -> n * 4;
                case Q4_0 -> n / 32 * 18;
                case Q8_0 -> n / 32 * 34;
                default -> throw new IllegalArgumentException("type " + type);
            };
        }
    }

    private GgufWriter() {}

    static void write(Path dir, Path out) throws IOException {
        LanguageModelConfig c = LanguageModelConfig.read(dir);
        int h = c.hiddenSize();
        int ff = c.intermediateSize();
        int q = c.numAttentionHeads() * c.headDim();
        int kv = c.numKeyValueHeads() * c.headDim();
        List<Tensor> ts = new ArrayList<>();
        ts.add(new Tensor("token_embd.weight", "model.embed_tokens.weight", new long[] {h, c.vocabSize()}, Q8_0));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            String b = "blk." + i + ".";
            ts.add(new Tensor(b + "attn_norm.weight", p + "input_layernorm.weight", new long[] {h}, F32));
            ts.add(new Tensor(b + "attn_q.weight", p + "self_attn.q_proj.weight", new long[] {h, q}, Q4_0));
            ts.add(new Tensor(b + "attn_q.bias", p + "self_attn.q_proj.bias", new long[] {q}, F32));
            ts.add(new Tensor(b + "attn_k.weight", p + "self_attn.k_proj.weight", new long[] {h, kv}, Q4_0));
            ts.add(new Tensor(b + "attn_k.bias", p + "self_attn.k_proj.bias", new long[] {kv}, F32));
            ts.add(new Tensor(b + "attn_v.weight", p + "self_attn.v_proj.weight", new long[] {h, kv}, Q4_0));
            ts.add(new Tensor(b + "attn_v.bias", p + "self_attn.v_proj.bias", new long[] {kv}, F32));
            ts.add(new Tensor(b + "attn_output.weight", p + "self_attn.o_proj.weight", new long[] {q, h}, Q4_0));
            ts.add(new Tensor(b + "ffn_norm.weight", p + "post_attention_layernorm.weight", new long[] {h}, F32));
            ts.add(new Tensor(b + "ffn_gate.weight", p + "mlp.gate_proj.weight", new long[] {h, ff}, Q4_0));
            ts.add(new Tensor(b + "ffn_up.weight", p + "mlp.up_proj.weight", new long[] {h, ff}, Q4_0));
            ts.add(new Tensor(b + "ffn_down.weight", p + "mlp.down_proj.weight", new long[] {ff, h}, Q4_0));
        }
        ts.add(new Tensor("output_norm.weight", "model.norm.weight", new long[] {h}, F32));
        if (!c.tieWordEmbeddings()) {
            ts.add(new Tensor("output.weight", "lm_head.weight", new long[] {h, c.vocabSize()}, Q8_0));
        }
        Map<String, Object> kvs = new LinkedHashMap<>();
        kvs.put("general.architecture", "qwen2");
        kvs.put("general.name", "glimpse-benchmark");
        kvs.put("general.file_type", 2); // mostly Q4_0
        kvs.put("qwen2.context_length", c.maxPositionEmbeddings());
        kvs.put("qwen2.embedding_length", h);
        kvs.put("qwen2.feed_forward_length", ff);
        kvs.put("qwen2.block_count", c.numHiddenLayers());
        kvs.put("qwen2.attention.head_count", c.numAttentionHeads());
        kvs.put("qwen2.attention.head_count_kv", c.numKeyValueHeads());
        kvs.put("qwen2.attention.layer_norm_rms_epsilon", (float) c.rmsNormEps());
        kvs.put("qwen2.rope.freq_base", (float) c.rope().theta());
        kvs.put("tokenizer.ggml.model", "gpt2");
        kvs.put("tokenizer.ggml.pre", "qwen2");
        List<String> tokens = new ArrayList<>(byteSymbols());
        tokens.add("\u0120a");
        while (tokens.size() < c.vocabSize() - 1) {
            tokens.add("<t" + tokens.size() + ">");
        }
        tokens.add("<|endoftext|>");
        int[] types = new int[tokens.size()];
        java.util.Arrays.fill(types, 1);
        types[types.length - 1] = 3;
        kvs.put("tokenizer.ggml.tokens", tokens);
        kvs.put("tokenizer.ggml.token_type", types);
        kvs.put("tokenizer.ggml.merges", List.of("\u0120 a"));
        kvs.put("tokenizer.ggml.eos_token_id", tokens.size() - 1);
        kvs.put("tokenizer.ggml.bos_token_id", tokens.size() - 1);
        kvs.put("tokenizer.ggml.add_bos_token", false);

        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20);
             Checkpoint ckpt = Checkpoint.open(dir)) {
            Out o = new Out(os);
            o.u32(0x46554747); // "GGUF"
            o.u32(3);
            o.u64(ts.size());
            o.u64(kvs.size());
            for (Map.Entry<String, Object> e : kvs.entrySet()) {
                o.str(e.getKey());
                o.value(e.getValue());
            }
            long offset = 0;
            for (Tensor t : ts) {
                o.str(t.name());
                o.u32(t.ne().length);
                for (long d : t.ne()) {
                    o.u64(d);
                }
                o.u32(t.type());
                o.u64(offset);
                offset = align(offset + t.bytes());
            }
            o.pad();
            long start = o.written;
            for (Tensor t : ts) {
                float[] w = ckpt.toFloats(t.key());
                byte[] data = switch (t.type()) {
                    case F32 -> {
                        ByteBuffer bb = ByteBuffer.allocate(w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                        bb.asFloatBuffer().put(w);
                        yield bb.array();
                    }
                    case Q4_0 -> q40(w);
                    default -> q80(w);
                };
                o.bytes(data);
                while ((o.written - start) % ALIGN != 0) {
                    o.u8(0);
                }
            }
        }
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** llama.cpp's quantize_row_q4_0: d = max / -8, codes min(15, (int8) (x / d + 8.5)), low nibbles first half. */
    static byte[] q40(float[] x) {
        int blocks = x.length / 32;
        byte[] out = new byte[blocks * 18];
        IntStream.range(0, blocks).parallel().forEach(b -> {
            float max = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[b * 32 + j];
                if (Math.abs(v) > Math.abs(max)) {
                    max = v;
                }
            }
            float d = max / -8;
            float id = d != 0 ? 1 / d : 0;
            short hd = f16(d);
            out[b * 18] = (byte) hd;
            out[b * 18 + 1] = (byte) (hd >> 8);
            for (int j = 0; j < 16; j++) {
                int x0 = Math.min(15, (int) (x[b * 32 + j] * id + 8.5f));
                int x1 = Math.min(15, (int) (x[b * 32 + 16 + j] * id + 8.5f));
                out[b * 18 + 2 + j] = (byte) (x0 | (x1 << 4));
            }
        });
        return out;
    }

    /** llama.cpp's quantize_row_q8_0: d = amax / 127, codes round(x / d). */
    static byte[] q80(float[] x) {
        int blocks = x.length / 32;
        byte[] out = new byte[blocks * 34];
        IntStream.range(0, blocks).parallel().forEach(b -> {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            short hd = f16(d);
            out[b * 34] = (byte) hd;
            out[b * 34 + 1] = (byte) (hd >> 8);
            for (int j = 0; j < 32; j++) {
                out[b * 34 + 2 + j] = (byte) Math.round(x[b * 32 + j] * id);
            }
        });
        return out;
    }

    /** GPT-2's byte-to-symbol table: printable bytes stand for themselves, the rest for code points from 256. */
    static List<String> byteSymbols() {
        List<String> out = new ArrayList<>();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            out.add(new String(Character.toChars(printable ? b : 256 + n++)));
        }
        return out;
    }

    /** fp16 bits of a float (rounding half up; the scales written here are normal numbers). */
    static short f16(float f) {
        int bits = Float.floatToIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int val = (bits & 0x7fffffff) + 0x1000;
        if (val >= 0x47800000) {
            return (short) (sign | 0x7c00);
        }
        if (val >= 0x38800000) {
            return (short) (sign | ((val - 0x38000000) >>> 13));
        }
        if (val < 0x33000000) {
            return (short) sign;
        }
        int e = (bits & 0x7fffffff) >>> 23;
        return (short) (sign | ((((bits & 0x7fffff) | 0x800000) + (0x800000 >>> (e - 102))) >>> (126 - e)));
    }

    static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    private static final class Out {
        final OutputStream os;
        long written;

        Out(OutputStream os) {
            this.os = os;
        }

        void u8(int v) throws IOException {
            os.write(v);
            written++;
        }

        void u32(long v) throws IOException {
            for (int i = 0; i < 4; i++) {
                u8((int) (v >>> (8 * i)) & 0xff);
            }
        }

        void u64(long v) throws IOException {
            for (int i = 0; i < 8; i++) {
                u8((int) (v >>> (8 * i)) & 0xff);
            }
        }

        void bytes(byte[] b) throws IOException {
            os.write(b);
            written += b.length;
        }

        void str(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void pad() throws IOException {
            while (written % ALIGN != 0) {
                u8(0);
            }
        }

        /** A typed value: uint32 (4), float32 (6), bool (7), string (8), arrays (9) of strings or int32 (5). */
        void value(Object v) throws IOException {
            if (v instanceof Integer i) {
                u32(4);
                u32(i);
            } else if (v instanceof Float f) {
                u32(6);
                u32(Float.floatToIntBits(f) & 0xffffffffL);
            } else if (v instanceof Boolean b) {
                u32(7);
                u8(b ? 1 : 0);
            } else if (v instanceof String s) {
                u32(8);
                str(s);
            } else if (v instanceof List<?> l) {
                u32(9);
                u32(8);
                u64(l.size());
                for (Object s : l) {
                    str((String) s);
                }
            } else if (v instanceof int[] a) {
                u32(9);
                u32(5);
                u64(a.length);
                for (int x : a) {
                    u32(x);
                }
            } else {
                throw new IllegalArgumentException("GGUF value " + v);
            }
        }
    }
}
