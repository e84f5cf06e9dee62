package dev.glimpse.benchmarks;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.OnnxCausalLM;
import dev.glimpse.language.WeightFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The LLM engines side by side (issue #13): random-weight bf16 checkpoints with the shapes of Qwen2.5-0.5B,
 * Qwen2.5-1.5B and LLaMA-7B, built by the ONNX engine in each weight format, timed against DJL fp32 and llama.cpp
 * (Q4_0, through de.kherud:llama) on the same weights and threads. One row per process (so peak RSS is the row's),
 * one JSON line on stdout; {@code report} turns the lines into a Markdown table. Driven by benchmarks/llm_engines.sh.
 *
 * <pre>
 * LlmEngineBench checkpoint SHAPE WORK            random bf16 safetensors (sharded at 4 GiB)
 * LlmEngineBench build SHAPE FORMAT WORK          the ONNX engine's build of one format
 * LlmEngineBench run SHAPE ENGINE FORMAT WORK ITERS PROMPT DECODE
 * LlmEngineBench gguf SHAPE WORK                  the GGUF file llama.cpp runs
 * LlmEngineBench bandwidth                        this machine's memory read bandwidth
 * LlmEngineBench report RESULTS.jsonl
 * </pre>
 */
public final class LlmEngineBench {
    /** Model shapes: architecture, vocab, hidden, intermediate, layers, heads, kv heads, head dim, tied. */
    record Shape(String name, String type, int vocab, int hidden, int ff, int layers, int heads, int kv, int hd,
                 boolean tied) {
        long params() {
            long attn = (long) hidden * heads * hd * 2 + (long) hidden * kv * hd * 2;
            long mlp = 3L * hidden * ff;
            return (long) vocab * hidden * (tied ? 1 : 2) + layers * (attn + mlp);
        }
    }

    static final Map<String, Shape> SHAPES = Map.of(
            "qwen2.5-0.5b", new Shape("qwen2.5-0.5b", "qwen2", 151936, 896, 4864, 24, 14, 2, 64, true),
            "qwen2.5-1.5b", new Shape("qwen2.5-1.5b", "qwen2", 151936, 1536, 8960, 28, 12, 2, 128, true),
            "llama-7b", new Shape("llama-7b", "llama", 32000, 4096, 11008, 32, 32, 32, 128, false));

    private LlmEngineBench() {}

    public static void main(String[] args) throws Exception {
        try {
            rows(args);
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void rows(String[] args) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        switch (args[0]) {
            case "checkpoint" -> checkpoint(SHAPES.get(args[1]), Path.of(args[2]));
            case "build" -> build(SHAPES.get(args[1]), args[2], Path.of(args[3]), out);
            case "run" -> run(SHAPES.get(args[1]), args[2], args[3], Path.of(args[4]), Integer.parseInt(args[5]),
                    Integer.parseInt(args[6]), Integer.parseInt(args[7]), out);
            case "gguf" -> {
                Path dir = Path.of(args[2]).resolve(args[1]);
                long t0 = System.nanoTime();
                GgufWriter.write(dir, dir.resolve("model-q4_0.gguf"));
                out.put("gguf_seconds", (System.nanoTime() - t0) / 1e9);
                out.put("gguf_bytes", Files.size(dir.resolve("model-q4_0.gguf")));
            }
            case "batch" -> batch(SHAPES.get(args[1]), args[2], Path.of(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]), Integer.parseInt(args[6]), out);
            case "bandwidth" -> bandwidth(out);
            case "report" -> {
                report(Path.of(args[1]));
                return;
            }
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        out.put("peak_rss_mb", peakRssMb());
        System.out.println(new ObjectMapper().writeValueAsString(out));
        System.out.flush();
        Runtime.getRuntime().halt(0); // llama.cpp's native threads would keep the JVM alive
    }

    static int threads() {
        return Integer.getInteger("glimpse.threads", 2);
    }

    /** Random bf16 weights (std 0.02; norms 1), written tensor by tensor: a 7B checkpoint never sits in memory. */
    static void checkpoint(Shape s, Path work) throws IOException {
        Path dir = work.resolve(s.name());
        if (Files.isRegularFile(dir.resolve("model.safetensors.index.json"))) {
            return;
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), String.format(Locale.ROOT, "{\"model_type\":\"%s\","
                + "\"vocab_size\":%d,\"hidden_size\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,"
                + "\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"head_dim\":%d,"
                + "\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,"
                + "\"tie_word_embeddings\":%b,\"torch_dtype\":\"bfloat16\"}", s.type(), s.vocab(), s.hidden(), s.ff(),
                s.layers(), s.heads(), s.kv(), s.hd(), s.tied()));
        Map<String, long[]> tensors = new LinkedHashMap<>();
        tensors.put("model.embed_tokens.weight", new long[] {s.vocab(), s.hidden()});
        boolean bias = s.type().equals("qwen2");
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            tensors.put(p + "input_layernorm.weight", new long[] {s.hidden()});
            tensors.put(p + "post_attention_layernorm.weight", new long[] {s.hidden()});
            tensors.put(p + "self_attn.q_proj.weight", new long[] {(long) s.heads() * s.hd(), s.hidden()});
            tensors.put(p + "self_attn.k_proj.weight", new long[] {(long) s.kv() * s.hd(), s.hidden()});
            tensors.put(p + "self_attn.v_proj.weight", new long[] {(long) s.kv() * s.hd(), s.hidden()});
            if (bias) {
                tensors.put(p + "self_attn.q_proj.bias", new long[] {(long) s.heads() * s.hd()});
                tensors.put(p + "self_attn.k_proj.bias", new long[] {(long) s.kv() * s.hd()});
                tensors.put(p + "self_attn.v_proj.bias", new long[] {(long) s.kv() * s.hd()});
            }
            tensors.put(p + "self_attn.o_proj.weight", new long[] {s.hidden(), (long) s.heads() * s.hd()});
            tensors.put(p + "mlp.gate_proj.weight", new long[] {s.ff(), s.hidden()});
            tensors.put(p + "mlp.up_proj.weight", new long[] {s.ff(), s.hidden()});
            tensors.put(p + "mlp.down_proj.weight", new long[] {s.hidden(), s.ff()});
        }
        tensors.put("model.norm.weight", new long[] {s.hidden()});
        if (!s.tied()) {
            tensors.put("lm_head.weight", new long[] {s.vocab(), s.hidden()});
        }
        // shards of at most 4 GiB, as save_pretrained makes them
        List<Map<String, long[]>> shards = new ArrayList<>();
        Map<String, long[]> cur = new LinkedHashMap<>();
        long size = 0;
        for (Map.Entry<String, long[]> e : tensors.entrySet()) {
            long bytes = numel(e.getValue()) * 2;
            if (size + bytes > (4L << 30) && !cur.isEmpty()) {
                shards.add(cur);
                cur = new LinkedHashMap<>();
                size = 0;
            }
            cur.put(e.getKey(), e.getValue());
            size += bytes;
        }
        shards.add(cur);
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        SplittableRandom seeds = new SplittableRandom(13);
        for (int k = 0; k < shards.size(); k++) {
            String file = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", k + 1, shards.size());
            Map<String, Object> header = new LinkedHashMap<>();
            header.put("__metadata__", Map.of("format", "pt"));
            long off = 0;
            for (Map.Entry<String, long[]> e : shards.get(k).entrySet()) {
                long bytes = numel(e.getValue()) * 2;
                header.put(e.getKey(), Map.of("dtype", "BF16", "shape", e.getValue(), "data_offsets",
                        new long[] {off, off + bytes}));
                off += bytes;
                weightMap.put(e.getKey(), file);
            }
            total += off;
            byte[] json = new ObjectMapper().writeValueAsBytes(header);
            int padded = (json.length + 7) / 8 * 8;
            try (FileChannel ch = FileChannel.open(dir.resolve(file), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(padded).put(json);
                while (head.hasRemaining()) {
                    head.put((byte) ' ');
                }
                head.flip();
                ch.write(head);
                for (Map.Entry<String, long[]> e : shards.get(k).entrySet()) {
                    boolean norm = e.getKey().endsWith("norm.weight");
                    writeRandom(ch, numel(e.getValue()), norm, seeds.nextLong());
                }
            }
        }
        Map<String, Object> index = Map.of("metadata", Map.of("total_size", total), "weight_map", weightMap);
        Files.write(dir.resolve("model.safetensors.index.json"), new ObjectMapper().writeValueAsBytes(index));
    }

    private static void writeRandom(FileChannel ch, long n, boolean ones, long seed) throws IOException {
        int chunk = 1 << 22;
        for (long done = 0; done < n; done += chunk) {
            int len = (int) Math.min(chunk, n - done);
            ByteBuffer b = ByteBuffer.allocate(len * 2).order(ByteOrder.LITTLE_ENDIAN);
            long s = seed + done;
            short[] vals = new short[len];
            IntStream.range(0, 16).parallel().forEach(part -> {
                SplittableRandom r = new SplittableRandom(s * 31 + part);
                for (int i = part; i < len; i += 16) {
                    float v = ones ? 1f : (float) ((r.nextDouble() * 2 - 1) * 0.02 * 1.7320508);
                    vals[i] = (short) ((Float.floatToIntBits(v) + 0x8000) >>> 16);
                }
            });
            b.asShortBuffer().put(vals);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** "int8" (the format's default accuracy level) or "int8@4" (MatMulNBits' accuracy level 4). */
    static OnnxCausalLM.Builder onnx(Path dir, String format, Path work) {
        String[] parts = format.split("@");
        OnnxCausalLM.Builder b = OnnxCausalLM.builder(dir).weights(WeightFormat.parse(parts[0])).threads(threads())
                .cacheDir(work.resolve("onnx"));
        return parts.length > 1 ? b.accuracyLevel(Integer.parseInt(parts[1])) : b;
    }

    static void build(Shape s, String format, Path work, Map<String, Object> out) {
        out.put("mode", "build");
        out.put("shape", s.name());
        out.put("format", format);
        long t0 = System.nanoTime();
        try (OnnxCausalLM lm = onnx(work.resolve(s.name()), format, work).build()) {
            out.put("build_seconds", (System.nanoTime() - t0) / 1e9);
            out.put("model_bytes", lm.modelBytes());
        }
    }

    /**
     * Prefill: the time from the call to the first new token after a prompt of {@code prompt} tokens. Decode: the
     * time between the first and the last of the next {@code decode} tokens, as each engine hands them over while
     * generating. The same method for every engine.
     */
    static void run(Shape s, String engine, String format, Path work, int iters, int prompt, int decode,
                    Map<String, Object> out) throws Exception {
        out.put("mode", "run");
        out.put("shape", s.name());
        out.put("engine", engine);
        out.put("format", format);
        out.put("threads", threads());
        out.put("prompt_tokens", prompt);
        Path dir = work.resolve(s.name());
        int[] ids = new int[prompt];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < prompt; i++) {
            ids[i] = r.nextInt(Math.min(s.vocab(), 30000));
        }
        Generator g;
        AutoCloseable closer;
        long modelBytes;
        long bytesPerToken;
        switch (engine) {
            case "djl" -> {
                GlimpseEngine.threads(threads());
                CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32);
                g = (n, clock) -> lm.generate(ids, options(n), (tok, logits, off) -> clock.tick()).length;
                closer = lm;
                modelBytes = 4 * s.params();
                // a tied model reads its table as the LM head; an untied one only gathers rows of the embedding
                bytesPerToken = 4 * (s.params() - (s.tied() ? 0 : (long) s.vocab() * s.hidden()));
            }
            case "onnx" -> {
                WeightFormat f = WeightFormat.parse(format.split("@")[0]);
                OnnxCausalLM lm = onnx(dir, format, work).build();
                g = (n, clock) -> lm.generate(ids, options(n), (tok, logits, off) -> clock.tick()).length;
                closer = lm;
                modelBytes = lm.modelBytes();
                long table = (long) s.vocab() * s.hidden() * (f == WeightFormat.FP32 ? 4 : 2);
                bytesPerToken = modelBytes - table; // the embedding table is only gathered from
            }
            case "llama.cpp" -> {
                Path gguf = dir.resolve("model-q4_0.gguf");
                de.kherud.llama.LlamaModel lm = new de.kherud.llama.LlamaModel(new de.kherud.llama.ModelParameters()
                        .setModel(gguf.toString()).setThreads(threads()).setThreadsBatch(threads())
                        .setCtxSize(prompt + decode + 64).setBatchSize(1024).setUbatchSize(512));
                String text = " a".repeat(prompt);
                int got = lm.encode(text).length;
                if (got != prompt) {
                    throw new IllegalStateException("llama.cpp tokenized the prompt to " + got + " tokens");
                }
                g = (n, clock) -> {
                    int made = 0;
                    for (de.kherud.llama.LlamaOutput o : lm.generate(new de.kherud.llama.InferenceParameters(text)
                            .setNPredict(n).setIgnoreEos(true).setTemperature(0).setCachePrompt(false))) {
                        if (made < n) { // the binding ends with one more, empty output: the stop, not a token
                            clock.tick();
                            made++;
                        }
                    }
                    return made;
                };
                closer = () -> { }; // the binding's close() does not return here: the process ends instead
                modelBytes = Files.size(gguf);
                bytesPerToken = modelBytes - (long) s.vocab() * s.hidden() * 34 / 32 * (s.tied() ? 0 : 1);
            }
            default -> throw new IllegalArgumentException("engine " + engine);
        }
        try (closer) {
            g.generate(2, new Clock()); // warm-up
            List<Double> pre = new ArrayList<>();
            List<Double> dec = new ArrayList<>();
            for (int it = 0; it < iters; it++) {
                Clock clock = new Clock();
                int made = g.generate(1 + decode, clock);
                if (made != 1 + decode || clock.ticks.size() != 1 + decode) {
                    throw new IllegalStateException(engine + " stopped after " + made + " tokens");
                }
                // prefill: the prompt until its first new token; decode: the tokens after it, as they arrive
                pre.add(prompt / ((clock.ticks.get(0) - clock.start) / 1e9));
                dec.add(decode / ((clock.ticks.get(decode) - clock.ticks.get(0)) / 1e9));
            }
            out.put("prefill_tokens_per_s", median(pre));
            out.put("decode_tokens_per_s", median(dec));
            out.put("prefill_runs", pre);
            out.put("decode_runs", dec);
            out.put("model_bytes", modelBytes);
            out.put("bytes_per_token", bytesPerToken);
        }
    }

    interface Generator {
        int generate(int newTokens, Clock clock) throws Exception;
    }

    /** When a generation started and when each of its tokens arrived. */
    static final class Clock {
        final long start = System.nanoTime();
        final List<Long> ticks = new ArrayList<>();

        /** Records a token's time; true, so a token sink can return it. */
        boolean tick() {
            return ticks.add(System.nanoTime());
        }
    }

    /**
     * Continuous batching on the ONNX engine: {@code n} sequences of {@code prompt} random tokens prefilled, then
     * {@code decode} steps of all of them; decode tokens/s summed over the sequences (the best of two rounds).
     */
    static void batch(Shape s, String format, Path work, int n, int prompt, int decode, Map<String, Object> out)
            throws Exception {
        out.put("mode", "batch");
        out.put("shape", s.name());
        out.put("format", format);
        out.put("threads", threads());
        out.put("sequences", n);
        out.put("prompt_tokens", prompt);
        SplittableRandom r = new SplittableRandom(5);
        try (OnnxCausalLM lm = onnx(work.resolve(s.name()), format, work).build()) {
            double best = 0;
            for (int round = 0; round < 2; round++) {
                try (dev.glimpse.language.Decoder d = lm.decoder()) {
                    List<dev.glimpse.language.Decoder.Sequence> seqs = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        int[] ids = new int[prompt];
                        for (int k = 0; k < prompt; k++) {
                            ids[k] = r.nextInt(Math.min(s.vocab(), 30000));
                        }
                        seqs.add(dev.glimpse.language.Decoder.Sequence.ids(ids, options(decode + 1)));
                    }
                    d.add(seqs);
                    long t0 = System.nanoTime();
                    int steps = 0;
                    while (d.active() > 0) {
                        d.step();
                        steps++;
                    }
                    best = Math.max(best, (double) n * steps / ((System.nanoTime() - t0) / 1e9));
                }
            }
            out.put("decode_tokens_per_s", best);
        }
    }

    static GenerationOptions options(int n) {
        return GenerationOptions.builder().maxNewTokens(n).useModelStopTokens(false).build();
    }

    /** Best of 5 reads of a 1 GiB array by {@code threads()} threads: GB/s. */
    static void bandwidth(Map<String, Object> out) {
        long[] a = new long[1 << 27];
        java.util.Arrays.parallelSetAll(a, i -> i * 31L);
        int t = threads();
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            long sum = IntStream.range(0, t).parallel().mapToLong(part -> {
                long s = 0;
                int from = (int) ((long) a.length * part / t);
                int to = (int) ((long) a.length * (part + 1) / t);
                for (int i = from; i < to; i++) {
                    s += a[i];
                }
                return s;
            }).sum();
            double secs = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, a.length * 8.0 / secs / 1e9);
            if (sum == 42) {
                System.err.print("");
            }
        }
        out.put("mode", "bandwidth");
        out.put("threads", t);
        out.put("gb_per_s", best);
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static long peakRssMb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
            }
        }
        return -1;
    }

    /** The Markdown tables of a results file. */
    static void report(Path results) throws IOException {
        ObjectMapper om = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(results)) {
            if (line.startsWith("{")) {
                rows.add(om.readTree(line));
            }
        }
        double bw = rows.stream().filter(r -> r.path("mode").asText().equals("bandwidth"))
                .mapToDouble(r -> r.get("gb_per_s").asDouble()).max().orElse(Double.NaN);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Memory read bandwidth (%d threads): %.1f GB/s%n%n", threads(), bw));
        JsonNode djl = rows.stream().filter(r -> r.path("mode").asText().equals("run")
                && r.path("engine").asText().equals("djl") && r.path("shape").asText().equals("qwen2.5-0.5b"))
                .findFirst().orElse(null);
        sb.append("| shape | engine | weights | model size | prefill tok/s | decode tok/s | decode vs DJL fp32 "
                + "| bandwidth limit tok/s | of limit | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for (JsonNode r : rows) {
            if (!r.path("mode").asText().equals("run")) {
                continue;
            }
            double limit = bw * 1e9 / r.get("bytes_per_token").asDouble();
            double dec = r.get("decode_tokens_per_s").asDouble();
            String vs = djl != null && r.get("shape").asText().equals("qwen2.5-0.5b")
                    ? String.format(Locale.ROOT, "%.2f×", dec / djl.get("decode_tokens_per_s").asDouble()) : "";
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.0f MB | %.1f | %.2f | %s | %.1f | %.0f %% | %d MB |%n",
                    r.get("shape").asText(), r.get("engine").asText(), r.get("format").asText(),
                    r.get("model_bytes").asDouble() / 1e6, r.get("prefill_tokens_per_s").asDouble(), dec, vs, limit,
                    100 * dec / limit, r.get("peak_rss_mb").asLong()));
        }
        List<JsonNode> batches = rows.stream().filter(r -> r.path("mode").asText().equals("batch")).toList();
        if (!batches.isEmpty()) {
            sb.append("\n| shape | weights | sequences | decode tok/s, all sequences | per sequence | vs one sequence |"
                    + "\n|---|---|---|---|---|---|\n");
            for (JsonNode r : batches) {
                double one = batches.stream().filter(x -> x.get("shape").equals(r.get("shape"))
                        && x.get("format").equals(r.get("format")) && x.get("sequences").asInt() == 1)
                        .mapToDouble(x -> x.get("decode_tokens_per_s").asDouble()).findFirst().orElse(Double.NaN);
                double all = r.get("decode_tokens_per_s").asDouble();
                int n = r.get("sequences").asInt();
                sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.1f | %.1f | %.2f× |%n",
                        r.get("shape").asText(), r.get("format").asText(), n, all, all / n, all / one));
            }
        }
        sb.append("\n| shape | weights | build s | built model | build peak RSS |\n|---|---|---|---|---|\n");
        for (JsonNode r : rows) {
            if (r.path("mode").asText().equals("build")) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %.0f MB | %d MB |%n", r.get("shape").asText(),
                        r.get("format").asText(), r.get("build_seconds").asDouble(),
                        r.get("model_bytes").asDouble() / 1e6, r.get("peak_rss_mb").asLong()));
            }
        }
        System.out.print(sb);
    }
}
