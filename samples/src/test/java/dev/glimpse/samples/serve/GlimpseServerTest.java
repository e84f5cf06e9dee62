package dev.glimpse.samples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.AdapterConfig;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.samples.demo.DemoRunner;
import dev.glimpse.samples.demo.DiagramDataset;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP service on loopback: concurrency, micro-batching, limits and errors. */
class GlimpseServerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newHttpClient();
    @TempDir
    static Path dir;
    static VisionLanguageModel vlm;
    static GlimpseServer server;
    static String base;
    static List<String> images = new ArrayList<>();

    /** A bundle with an untrained (seeded) adapter on the demo kit: deterministic answers are all we need. */
    static Path bundle() {
        Path kit = Path.of("demo-kit").toAbsolutePath();
        Path b = dir.resolve("bundle");
        Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, 160, 64, false, 5);
        new Adapter(p, new AdapterConfig(ProjectorType.MLP2X_GELU, 160, 64, 64, 49, false, "mobilenet-v2-features",
                DemoRunner.LAYER, "stories260k")).save(b.resolve("adapter"));
        new VisionLanguageModel.BundleSpec(kit.resolve("mobilenet-v2-features").toString(), DemoRunner.LAYER, true,
                kit.resolve("stories260k").toString(), "adapter", DemoRunner.TEMPLATE).write(b);
        return b;
    }

    @BeforeAll
    static void start() throws Exception {
        vlm = VisionLanguageModel.load(bundle().toString());
        server = new GlimpseServer(vlm, "test-bundle", GlimpseServer.Options.defaults().withPort(0));
        server.start();
        base = "http://127.0.0.1:" + server.port();
        for (DiagramDataset.Item it : DiagramDataset.generate(1, 4, "s")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(it.image(), "png", out);
            images.add("data:image/png;base64," + Base64.getEncoder().encodeToString(out.toByteArray()));
        }
    }

    @AfterAll
    static void stop() {
        server.close();
        vlm.close();
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base + path))
                .timeout(java.time.Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    static String answerRequest(int i) throws Exception {
        return JSON.writeValueAsString(Map.of("image", images.get(i % images.size()), "question",
                DiagramDataset.Kind.values()[i % 4].question, "choices", DiagramDataset.Kind.values()[i % 4].options,
                "ignored_field", 42));
    }

    @Test
    void eightClientsFiftyRequestsEachAgreeWithSingleThreadedAnswers() throws Exception {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            HttpResponse<String> r = post("/v1/answer", answerRequest(i));
            assertEquals(200, r.statusCode(), r.body());
            JsonNode n = JSON.readTree(r.body());
            assertTrue(n.get("letter").asText().matches("[A-D]"), n.toString());
            assertTrue(n.get("latency_ms").asDouble() > 0);
            expected.add(n.get("answer").asText() + "/" + n.get("probabilities").toString());
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
            int client = c;
            fs.add(pool.submit(() -> {
                for (int k = 0; k < 50; k++) {
                    int i = (client + k) % 8;
                    try {
                        HttpResponse<String> r = post("/v1/answer", answerRequest(i));
                        if (r.statusCode() != 200) {
                            errors.add(r.statusCode() + " " + r.body());
                            continue;
                        }
                        JsonNode n = JSON.readTree(r.body());
                        String got = n.get("answer").asText() + "/" + n.get("probabilities").toString();
                        if (!got.equals(expected.get(i))) {
                            errors.add("request " + i + ": " + got + " != " + expected.get(i));
                        }
                    } catch (Exception e) {
                        errors.add(e.toString());
                    }
                }
            }));
        }
        for (Future<?> f : fs) {
            f.get(5, TimeUnit.MINUTES);
        }
        pool.shutdown();
        assertTrue(errors.isEmpty(), errors.size() + " errors, first: " + errors.peek());
        String metrics = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.contains("glimpse_requests_total{endpoint=\"/v1/answer\",code=\"200\"}"), metrics);
        assertTrue(metrics.contains("glimpse_request_latency_seconds_bucket{le=\"+Inf\"}"));
        assertTrue(metrics.contains("glimpse_queue_depth"));
    }

    @Test
    void chatCompletionsAndHealth() throws Exception {
        String body = JSON.writeValueAsString(Map.of("model", "x", "max_tokens", 8, "messages", List.of(Map.of("role",
                "user", "content", List.of(Map.of("type", "image_url", "image_url", Map.of("url", images.get(0))),
                        Map.of("type", "text", "text", "Question: What color is the ball?\nAnswer:"))))));
        HttpResponse<String> r = post("/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode n = JSON.readTree(r.body());
        assertEquals("chat.completion", n.get("object").asText());
        assertEquals("assistant", n.get("choices").get(0).get("message").get("role").asText());
        assertTrue(n.get("usage").get("prompt_tokens").asInt() > 49);
        assertTrue(n.get("usage").get("completion_tokens").asInt() <= 8);
        HttpResponse<String> h = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, h.statusCode());
        assertEquals("ok", JSON.readTree(h.body()).get("status").asText());
    }

    @Test
    void malformedRequestsGetTheRight4xx() throws Exception {
        String img = images.get(0);
        Object[][] cases = {
            {"/v1/answer", "{not json", 400, "malformed JSON"},
            {"/v1/answer", "[1,2]", 400, "must be a JSON object"},
            {"/v1/answer", "{\"image\":\"" + img + "\"}", 400, "'question' is required"},
            {"/v1/answer", "{\"question\": 5}", 400, "must be a string"},
            {"/v1/answer", "{\"question\":\"q\",\"image\":\"@@@notbase64\"}", 400, "not valid base64"},
            {"/v1/answer", "{\"question\":\"q\",\"image\":\"" + Base64.getEncoder().encodeToString("hello".getBytes())
                    + "\"}", 400, "not an image"},
            {"/v1/answer", "{\"question\":\"q\",\"image\":\"https://example.com/cat.png\"}", 400, "remote image URLs"},
            {"/v1/answer", "{\"question\":\"q\",\"choices\":\"a|b\"}", 400, "list of strings"},
            {"/v1/answer", "{\"question\":\"q\",\"choices\":[\"only\"]}", 400, "2 to 26"},
            {"/v1/answer", "{\"question\":\"" + "word ".repeat(3000) + "\"}", 400, "over the limit"},
            {"/v1/chat/completions", "{\"messages\":[]}", 400, "non-empty"},
            {"/v1/chat/completions", "{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}", 400, "role"},
            {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}", 400,
                "text or image_url"},
            {"/v1/nothing", "{}", 404, "no endpoint"},
        };
        for (Object[] c : cases) {
            HttpResponse<String> r;
            try {
                r = post((String) c[0], (String) c[1]);
            } catch (java.io.IOException e) {
                throw new AssertionError("case " + c[3] + ": " + e, e);
            }
            assertEquals((int) c[2], r.statusCode(), c[0] + " " + r.body());
            JsonNode e = JSON.readTree(r.body()).get("error");
            assertTrue(e.get("message").asText().contains((String) c[3]), e.get("message").asText());
        }
        // wrong method
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/v1/answer")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(405, r.statusCode());
        // too large: 413 before the body is parsed
        String big = "{\"question\":\"q\",\"image\":\"" + "A".repeat(21 << 20) + "\"}";
        r = post("/v1/answer", big);
        assertEquals(413, r.statusCode());
    }

    @Test
    void aFullQueueAnswers503WithRetryAfter() throws Exception {
        try (VisionLanguageModel small = VisionLanguageModel.load(dir.resolve("bundle").toString())) {
            GlimpseServer.Options o = new GlimpseServer.Options("127.0.0.1", 0, 20L << 20, 50_000_000L, 4096, 1, 1,
                    false, 32);
            GlimpseServer s = new GlimpseServer(small, "small", o);
            s.start();
            try {
                ExecutorService pool = Executors.newFixedThreadPool(32);
                List<Future<HttpResponse<String>>> fs = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    int k = i;
                    fs.add(pool.submit(() -> CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port()
                            + "/v1/answer")).POST(HttpRequest.BodyPublishers.ofString(answerRequest(k))).build(),
                            HttpResponse.BodyHandlers.ofString())));
                }
                int ok = 0;
                int busy = 0;
                for (Future<HttpResponse<String>> f : fs) {
                    HttpResponse<String> r = f.get(2, TimeUnit.MINUTES);
                    if (r.statusCode() == 200) {
                        ok++;
                    } else {
                        assertEquals(503, r.statusCode(), r.body());
                        assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
                        busy++;
                    }
                }
                pool.shutdown();
                assertTrue(ok > 0 && busy > 0, ok + " answered, " + busy + " turned away");
            } finally {
                s.close();
            }
        }
    }

    @Test
    void sigtermStopsTheCliServerGracefully() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "dev.glimpse.samples.cli.GlimpseCli", "serve", "--model", dir.resolve("bundle").toString(), "--port", "0",
                "--json");
        Path errLog = dir.resolve("serve-stderr.txt");
        pb.redirectError(errLog.toFile());
        Process p = pb.start();
        String first = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream())).readLine();
        if (first == null) {
            throw new AssertionError("the server printed no address (exit " + p.waitFor() + "): "
                    + Files.readString(errLog));
        }
        String url = JSON.readTree(first).get("url").asText();
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(url + "/v1/answer"))
                .POST(HttpRequest.BodyPublishers.ofString(answerRequest(1))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped within a minute");
        String err = Files.readString(errLog);
        assertTrue(err.contains("glimpse serve: stopped"), err);
    }
}
