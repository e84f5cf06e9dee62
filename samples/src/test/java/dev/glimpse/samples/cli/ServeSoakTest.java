package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.TestData;
import dev.glimpse.samples.demo.DiagramDataset;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak: {@code glimpse serve} (a real process, the demo bundle) under 32 clients for {@code glimpse.soak.seconds}
 * (60 under {@code -Psoak}; 600 for docs/reliability.md) mixing valid questions and chats (streamed too), malformed
 * JSON, oversized bodies, truncated images, slow senders and abandoned connections; the server's heap, RSS and
 * threads are sampled throughout. Then SIGTERM while the clients keep going: every request the server accepted is
 * answered (or refused with 503), none is lost or hung. Writes {@code target/soak/report.md}.
 */
@Tag("soak")
class ServeSoakTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int CLIENTS = 32;
    /** A 503 whose body says the queue is full: the one overload answer allowed. */
    static final String QUEUE_FULL = "503 (queue full)";

    /** What a client does, with its share of the traffic. */
    enum Kind {
        ANSWER(30), CHAT(12), CHAT_STREAM(8), MALFORMED_JSON(10), OVERSIZED(5), TRUNCATED_IMAGE(10), SLOW_SENDER(5),
        ABANDONED(10), HEALTH(10);

        final int weight;

        Kind(int weight) {
            this.weight = weight;
        }
    }

    record Sample(double t, long rssKb, double heapMb, int threads) {}

    final Map<Kind, Map<String, LongAdder>> outcomes = new ConcurrentHashMap<>();
    final ConcurrentLinkedQueue<Double> validLatencies = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    String base;
    int port;
    List<String> images = new ArrayList<>();
    String truncated;

    @Test
    void soakThenSigtermUnderLoad(@TempDir Path dir) throws Exception {
        int seconds = Integer.getInteger("glimpse.soak.seconds", 60);
        for (DiagramDataset.Item it : DiagramDataset.generate(2, 7, "soak")) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            ImageIO.write(it.image(), "png", b);
            images.add("data:image/png;base64," + Base64.getEncoder().encodeToString(b.toByteArray()));
            if (truncated == null) {
                byte[] half = Arrays.copyOf(b.toByteArray(), b.size() / 2);
                truncated = "data:image/png;base64," + Base64.getEncoder().encodeToString(half);
            }
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path errLog = dir.resolve("serve-stderr.txt");
        Process server = new ProcessBuilder(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "dev.glimpse.samples.cli.GlimpseCli", "serve", "--model", TestData.model("bundle").toString(),
                "--name", "demo", "--port", "0", "--max-body-mb", "1", "--json").redirectError(errLog.toFile()).start();
        String first = new java.io.BufferedReader(new java.io.InputStreamReader(server.getInputStream())).readLine();
        if (first == null) {
            throw new AssertionError("no address from the server: " + Files.readString(errLog));
        }
        base = JSON.readTree(first).get("url").asText();
        port = URI.create(base).getPort();

        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS + 1);
        pool.submit(() -> {
            while (!stop.get()) {
                samples.add(sample(server.pid(), (System.nanoTime() - start) / 1e9));
                sleep(Math.max(1000, seconds * 1000L / 40));
            }
            return null;
        });
        List<Future<?>> clients = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            long seed = c;
            clients.add(pool.submit(() -> {
                SplittableRandom r = new SplittableRandom(seed);
                while (!stop.get()) {
                    request(pick(r), r, false);
                }
                return null;
            }));
        }
        sleep(seconds * 1000L);
        samples.add(sample(server.pid(), (System.nanoTime() - start) / 1e9));
        stop.set(true); // the soak's clients finish their requests; the SIGTERM phase has its own
        for (Future<?> f : clients) {
            f.get(2, TimeUnit.MINUTES);
        }

        // SIGTERM under load: clients keep sending while the server drains and stops
        AtomicLong duringStop = new AtomicLong();
        ConcurrentLinkedQueue<String> lost = new ConcurrentLinkedQueue<>();
        List<Future<?>> late = new ArrayList<>();
        ExecutorService lateClients = Executors.newFixedThreadPool(16);
        for (int c = 0; c < 16; c++) {
            long seed = 1000 + c;
            late.add(lateClients.submit(() -> {
                SplittableRandom r = new SplittableRandom(seed);
                for (int k = 0; k < 40; k++) {
                    String got = request(r.nextBoolean() ? Kind.ANSWER : Kind.CHAT_STREAM, r, true);
                    if (got.equals("refused")) {
                        return null; // not accepted: the listener is closed
                    }
                    if (got.startsWith("lost")) {
                        lost.add(got);
                    }
                    duringStop.incrementAndGet();
                }
                return null;
            }));
        }
        sleep(500);
        server.destroy(); // SIGTERM
        boolean exited = server.waitFor(90, TimeUnit.SECONDS);
        for (Future<?> f : late) {
            f.get(2, TimeUnit.MINUTES);
        }
        pool.shutdownNow();
        lateClients.shutdownNow();
        String report = report(seconds, samples, duringStop.get(), lost);
        Path out = Path.of("target/soak");
        Files.createDirectories(out);
        Files.writeString(out.resolve("report.md"), report);
        System.out.println(report);

        assertTrue(exited, "the server stopped within 90 s of SIGTERM");
        assertTrue(Files.readString(errLog).contains("glimpse serve: stopped"));
        assertTrue(problems.isEmpty(), problems.size() + " problems, first: " + problems.peek());
        assertTrue(lost.isEmpty(), lost.size() + " requests lost during SIGTERM, first: " + lost.peek());
        long answered = outcomes.getOrDefault(Kind.ANSWER, Map.of()).getOrDefault("200", new LongAdder()).sum();
        assertTrue(answered > 0, "valid questions were answered");
        // flat: threads settle, RSS does not keep growing after the first quarter
        List<Sample> s = new ArrayList<>(samples);
        s.removeIf(x -> x.rssKb() == 0);
        if (s.size() >= 8) {
            Sample q1 = s.get(s.size() / 4);
            Sample last = s.get(s.size() - 1);
            assertTrue(last.rssKb() <= q1.rssKb() * 1.25 + 50_000, "RSS grew from " + q1.rssKb() + " kB to "
                    + last.rssKb() + " kB");
            int maxT = s.subList(s.size() / 4, s.size()).stream().mapToInt(Sample::threads).max().orElse(0);
            int minT = s.subList(s.size() / 4, s.size()).stream().mapToInt(Sample::threads).min().orElse(0);
            assertTrue(maxT - minT <= 16, "threads moved between " + minT + " and " + maxT);
        }
    }

    Kind pick(SplittableRandom r) {
        int total = Arrays.stream(Kind.values()).mapToInt(k -> k.weight).sum();
        int x = r.nextInt(total);
        for (Kind k : Kind.values()) {
            x -= k.weight;
            if (x < 0) {
                return k;
            }
        }
        return Kind.HEALTH;
    }

    /** Sends one request of {@code kind}; returns its status, "refused" (not accepted) or "lost ..." (accepted, then
     * no answer). */
    String request(Kind kind, SplittableRandom r, boolean stopping) {
        long t = System.nanoTime();
        String status;
        try {
            status = stopping ? raw(kind == Kind.ANSWER ? "/v1/answer" : "/v1/chat/completions", kind == Kind.ANSWER
                    ? JSON.writeValueAsString(Map.of("image", image(r), "question", "What color is the ball?",
                    "choices", List.of("red", "blue"))) : chat(r, true)) : switch (kind) {
                case ANSWER -> post("/v1/answer", JSON.writeValueAsString(Map.of("image", image(r), "question",
                        "What color is the ball?", "choices", List.of("red", "blue", "green", "yellow"))));
                case CHAT -> post("/v1/chat/completions", chat(r, false));
                case CHAT_STREAM -> post("/v1/chat/completions", chat(r, true));
                case MALFORMED_JSON -> post("/v1/answer", "{\"question\": \"What\", \"choices\": [\"a\",");
                case OVERSIZED -> post("/v1/answer", "{\"question\":\"q\",\"image\":\"" + "A".repeat(2 << 20) + "\"}");
                case TRUNCATED_IMAGE -> post("/v1/answer", JSON.writeValueAsString(Map.of("image", truncated,
                        "question", "What color is the ball?")));
                case SLOW_SENDER -> slow(r);
                case ABANDONED -> abandon(r);
                case HEALTH -> String.valueOf(http.send(HttpRequest.newBuilder(URI.create(base + "/health"))
                        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            };
        } catch (ConnectException e) {
            status = "refused";
        } catch (IOException e) {
            status = stopping ? "lost " + kind + ": " + e : "io-error";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
        double ms = (System.nanoTime() - t) / 1e6;
        outcomes.computeIfAbsent(kind, k -> new ConcurrentHashMap<>()).computeIfAbsent(stopping ? "stop:" + status
                : status, k -> new LongAdder()).increment();
        if (!stopping) {
            check(kind, status);
            if (status.equals("200") && (kind == Kind.ANSWER || kind == Kind.CHAT || kind == Kind.CHAT_STREAM)) {
                validLatencies.add(ms);
            }
        } else if (status.startsWith("5") && !status.equals("503")) {
            problems.add(kind + " answered " + status + " during SIGTERM");
        }
        return status;
    }

    /** What each kind may get: valid requests 200, bad ones their 4xx, never a 5xx (there is queue room). */
    void check(Kind kind, String status) {
        boolean ok = status.equals(QUEUE_FULL) || switch (kind) {
            case ANSWER, CHAT, CHAT_STREAM, HEALTH -> status.equals("200");
            case MALFORMED_JSON, TRUNCATED_IMAGE -> status.equals("400");
            case OVERSIZED -> status.equals("413") || status.equals("io-error"); // the server may close early
            case SLOW_SENDER -> status.equals("200");
            case ABANDONED -> true;
        };
        if (!ok) {
            problems.add(kind + " got " + status);
        }
    }

    String image(SplittableRandom r) {
        return images.get(r.nextInt(images.size()));
    }

    String chat(SplittableRandom r, boolean stream) throws IOException {
        return JSON.writeValueAsString(Map.of("model", "demo", "stream", stream, "max_tokens", 8 + r.nextInt(16),
                "messages", List.of(Map.of("role", "user", "content", List.of(Map.of("type", "image_url",
                        "image_url", Map.of("url", image(r))), Map.of("type", "text", "text", "What is this?"))))));
    }

    String post(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> res = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(
                Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() == 200 && path.endsWith("completions") && body.contains("\"stream\":true")
                && !res.body().endsWith("data: [DONE]\n\n")) {
            problems.add("a stream without [DONE]: " + res.body().substring(Math.max(0, res.body().length() - 200)));
        }
        if (res.statusCode() == 503) {
            if (res.headers().firstValue("Retry-After").isEmpty()) {
                problems.add("503 without Retry-After");
            }
            return res.body().contains("queue is full") ? QUEUE_FULL : "503";
        }
        return String.valueOf(res.statusCode());
    }

    /**
     * One request on its own connection (while the server stops, pooled connections would blur "never accepted" and
     * "accepted, then dropped"): the status of the answer, {@link ConnectException} when nobody accepts.
     */
    String raw(String path, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(120_000);
            OutputStream o = s.getOutputStream();
            o.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            o.write(body);
            o.flush();
            InputStream in = s.getInputStream();
            String status = statusOf(in);
            if (status.equals("200") && path.endsWith("completions")) {
                String rest = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                if (!rest.contains("data: [DONE]")) {
                    throw new IOException("a stream cut before [DONE]");
                }
            }
            if (status.equals("no-status")) {
                throw new IOException("the connection closed without an answer");
            }
            return status;
        }
    }

    /** A valid question sent in small pieces over about two seconds. */
    String slow(SplittableRandom r) throws IOException {
        byte[] body = JSON.writeValueAsBytes(Map.of("question", "What color is the ball?", "image", image(r),
                "choices", List.of("red", "blue")));
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(120_000);
            OutputStream o = s.getOutputStream();
            o.write(("POST /v1/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            int step = Math.max(1, body.length / 20);
            for (int i = 0; i < body.length; i += step) {
                o.write(body, i, Math.min(step, body.length - i));
                o.flush();
                sleep(100);
            }
            InputStream in = s.getInputStream();
            String status = statusOf(in);
            if (status.equals("503")) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("queue is full") ? QUEUE_FULL
                        : "503";
            }
            return status;
        }
    }

    /** Half a request then gone, or a whole request and gone before the answer. */
    String abandon(SplittableRandom r) throws IOException {
        byte[] body = JSON.writeValueAsBytes(Map.of("question", "What color is the ball?", "image", image(r)));
        try (Socket s = new Socket("127.0.0.1", port)) {
            OutputStream o = s.getOutputStream();
            o.write(("POST /v1/answer HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            o.write(body, 0, r.nextBoolean() ? body.length / 2 : body.length);
            o.flush();
        }
        return "abandoned";
    }

    static String statusOf(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c; (c = in.read()) >= 0 && c != '\n'; ) {
            line.append((char) c);
        }
        String[] p = line.toString().split(" ");
        return p.length > 1 ? p[1] : "no-status";
    }

    Sample sample(long pid, double t) {
        long rss = 0;
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) {
                    rss = Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            rss = 0; // not Linux, or the process is gone
        }
        double heap = 0;
        int threads = 0;
        try {
            String m = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString()).body();
            for (String l : m.split("\n")) {
                if (l.startsWith("jvm_memory_used_bytes{area=\"heap\"}")) {
                    heap = Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) / (1 << 20);
                } else if (l.startsWith("jvm_threads_current ")) {
                    threads = (int) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
                }
            }
        } catch (IOException | InterruptedException | NumberFormatException e) {
            // stopping
        }
        return new Sample(t, rss, heap, threads);
    }

    String report(int seconds, List<Sample> samples, long duringStop, ConcurrentLinkedQueue<String> lost) {
        StringBuilder sb = new StringBuilder();
        long total = outcomes.values().stream().flatMap(m -> m.entrySet().stream())
                .filter(e -> !e.getKey().startsWith("stop:")).mapToLong(e -> e.getValue().sum()).sum();
        List<Double> lat = new ArrayList<>(validLatencies);
        Collections.sort(lat);
        sb.append(String.format(Locale.ROOT, "## Soak: %d s, %d clients, %,d requests (%.1f/s)%n%n", seconds,
                CLIENTS, total, total / (double) seconds));
        sb.append("| kind | outcomes (status: count) |\n|---|---|\n");
        for (Kind k : Kind.values()) {
            Map<String, LongAdder> m = outcomes.getOrDefault(k, Map.of());
            TreeMap<String, Long> sorted = new TreeMap<>();
            m.forEach((s, n) -> sorted.put(s, n.sum()));
            sb.append("| ").append(k.name().toLowerCase(Locale.ROOT)).append(" | ").append(sorted).append(" |\n");
        }
        sb.append(String.format(Locale.ROOT, "%nValid requests: p50 %.0f ms, p99 %.0f ms over %d answers.%n",
                pct(lat, 0.5), pct(lat, 0.99), lat.size()));
        sb.append("\n| t (s) | RSS (MB) | heap used (MB) | threads |\n|---:|---:|---:|---:|\n");
        List<Sample> s = new ArrayList<>(samples);
        int stepEvery = Math.max(1, s.size() / 10);
        for (int i = 0; i < s.size(); i += stepEvery) {
            Sample x = s.get(i);
            sb.append(String.format(Locale.ROOT, "| %.0f | %.0f | %.0f | %d |%n", x.t(), x.rssKb() / 1024.0,
                    x.heapMb(), x.threads()));
        }
        sb.append(String.format(Locale.ROOT, "%nSIGTERM under load: %d requests sent while stopping were answered or"
                + " refused with 503; %d lost.%n", duringStop, lost.size()));
        sb.append("Problems: ").append(problems.isEmpty() ? "none" : problems.size() + ", first " + problems.peek())
                .append('\n');
        return sb.toString();
    }

    static double pct(List<Double> sorted, double q) {
        return sorted.isEmpty() ? Double.NaN : sorted.get((int) Math.min(sorted.size() - 1, q * sorted.size()));
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
