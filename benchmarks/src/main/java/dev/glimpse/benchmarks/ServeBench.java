package dev.glimpse.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.server.GlimpseServer;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;

/**
 * The service under concurrent clients, side by side in one run: closed-loop clients (each sends its next request
 * when the last is answered) for a fixed time per row, against a server that decodes one request at a time (batch 1)
 * and against continuous batching. Prints a Markdown table and one JSON line per row.
 *
 * <pre>java ... ServeBench BUNDLE SECONDS_PER_ROW [djl | onnx[:fp32|fp16|int8|int4]]</pre>
 */
public final class ServeBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ServeBench() {}

    record Row(String endpoint, int clients, int maxBatch, int requests, int errors, double seconds, double p50,
               double p99) {
        double rps() {
            return requests / seconds;
        }
    }

    public static void main(String[] args) throws Exception {
        String bundle = args[0];
        double seconds = Double.parseDouble(args[1]);
        List<String> images = images();
        List<Row> rows = new ArrayList<>();
        String engine = args.length > 2 ? args[2] : "djl";
        VisionLanguageModel.Builder b = VisionLanguageModel.builder().model(bundle);
        if (engine.startsWith("onnx")) {
            b.engine(dev.glimpse.language.InferenceEngine.ONNX).weights(dev.glimpse.language.WeightFormat.parse(
                    engine.contains(":") ? engine.substring(engine.indexOf(':') + 1) : "fp32"));
        }
        System.err.println("engine: " + engine);
        try (VisionLanguageModel vlm = b.build()) {
            for (int batch : new int[] {1, 32}) {
                try (GlimpseServer server = GlimpseServer.builder(vlm).modelName("bench").port(0).maxBatch(batch)
                        .queueCapacity(256).build().start()) {
                    for (String endpoint : List.of("/v1/chat/completions", "/v1/answer")) {
                        for (int clients : batch == 1 ? new int[] {1, 8} : new int[] {1, 8, 32}) {
                            run(server, endpoint, clients, Math.min(5, seconds), images, batch); // warm-up
                            Row r = run(server, endpoint, clients, seconds, images, batch);
                            rows.add(r);
                            System.err.printf(Locale.ROOT, "%s clients=%d batch=%d: %.2f req/s p50 %.0f ms p99 %.0f"
                                    + " ms%n", endpoint, clients, batch, r.rps(), r.p50(), r.p99());
                        }
                    }
                }
            }
        }
        System.out.println("| endpoint | max batch | clients | requests | req/s | p50 ms | p99 ms | errors | vs one at a"
                + " time |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            double base = rows.stream().filter(x -> x.endpoint().equals(r.endpoint()) && x.maxBatch() == 1
                    && x.clients() == 1).findFirst().orElseThrow().rps();
            System.out.printf(Locale.ROOT, "| %s | %d | %d | %d | %.2f | %.0f | %.0f | %d | %.2f× |%n", r.endpoint(),
                    r.maxBatch(), r.clients(), r.requests(), r.rps(), r.p50(), r.p99(), r.errors(), r.rps() / base);
        }
        for (Row r : rows) {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("endpoint", r.endpoint());
            j.put("max_batch", r.maxBatch());
            j.put("clients", r.clients());
            j.put("requests", r.requests());
            j.put("errors", r.errors());
            j.put("rps", r.rps());
            j.put("p50_ms", r.p50());
            j.put("p99_ms", r.p99());
            System.out.println(JSON.writeValueAsString(j));
        }
    }

    /** Each client asks about its own image: chat completions of 16 greedy tokens, or four-way multiple choice. */
    static String body(String endpoint, String image, int i) throws Exception {
        if (endpoint.equals("/v1/answer")) {
            return JSON.writeValueAsString(Map.of("image", image, "question", "What color is the ball?", "choices",
                    List.of("red", "blue", "green", "yellow")));
        }
        return JSON.writeValueAsString(Map.of("model", "bench", "max_tokens", 16, "messages", List.of(Map.of("role",
                "user", "content", List.of(Map.of("type", "image_url", "image_url", Map.of("url", image)),
                        Map.of("type", "text", "text", List.of("What is this?", "Tell me about the ball.",
                                "Once upon a time").get(i % 3)))))));
    }

    static Row run(GlimpseServer server, String endpoint, int clients, double seconds, List<String> images,
                   int batch) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger errors = new AtomicInteger();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> fs = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            int client = c;
            fs.add(pool.submit(() -> {
                int k = 0;
                while (System.nanoTime() < end) {
                    long t = System.nanoTime();
                    try {
                        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + endpoint))
                                .POST(HttpRequest.BodyPublishers.ofString(body(endpoint, images.get((client + k)
                                        % images.size()), client + k))).build(), HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200) {
                            latencies.add((System.nanoTime() - t) / 1e6);
                        } else {
                            errors.incrementAndGet();
                        }
                    } catch (Exception e) {
                        errors.incrementAndGet();
                    }
                    k++;
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        List<Double> l = new ArrayList<>(latencies);
        Collections.sort(l);
        return new Row(endpoint, clients, batch, l.size(), errors.get(), elapsed, pct(l, 0.50), pct(l, 0.99));
    }

    static double pct(List<Double> sorted, double q) {
        return sorted.isEmpty() ? Double.NaN : sorted.get((int) Math.min(sorted.size() - 1,
                Math.floor(q * sorted.size())));
    }

    static List<String> images() throws Exception {
        List<String> out = new ArrayList<>();
        Color[] colors = {Color.RED, Color.BLUE, Color.GREEN, Color.YELLOW, Color.MAGENTA, Color.ORANGE, Color.CYAN,
            Color.GRAY};
        for (int i = 0; i < colors.length; i++) {
            BufferedImage img = new BufferedImage(224, 224, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, 224, 224);
            g.setColor(colors[i]);
            g.fillOval(30 + 10 * i, 60, 90, 90);
            g.dispose();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            ImageIO.write(img, "png", b);
            out.add("data:image/png;base64," + Base64.getEncoder().encodeToString(b.toByteArray()));
        }
        return out;
    }
}
