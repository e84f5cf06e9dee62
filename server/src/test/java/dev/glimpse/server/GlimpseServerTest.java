package dev.glimpse.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.fusion.Bundle;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.AdapterConfig;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.PromptTemplate;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
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

/** The HTTP service on loopback: concurrency, batching, limits and errors (streaming: ChatCompletionsTest). */
class GlimpseServerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newHttpClient();
    @TempDir
    static Path dir;
    static VisionLanguageModel vlm;
    static GlimpseServer server;
    static String base;
    static List<String> images = new ArrayList<>();

    static final String LAYER = "block_13_hidden_state";
    static final String[] COLORS = {"red", "blue", "green", "yellow"};
    static final Color[] PAINT = {Color.RED, Color.BLUE, Color.GREEN, Color.YELLOW};
    static final String[][] QUESTIONS = {
        {"What color is the ball?", "red", "blue", "green", "yellow"},
        {"What shape is it?", "circle", "square", "triangle"},
        {"How many balls are there?", "one", "two", "three"},
        {"Where is the ball?", "left", "right"},
    };

    /** A bundle with an untrained (seeded) adapter on the demo kit: deterministic answers are all we need. */
    static Path bundle(Path dir) {
        Path b = dir.resolve("bundle");
        Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, 160, 64, false, 5);
        new Adapter(p, new AdapterConfig(ProjectorType.MLP2X_GELU, 160, 64, 64, 49, false, "mobilenet-v2-features",
                LAYER, "stories260k")).save(b.resolve("adapter"));
        new Bundle(TestData.model("mobilenet-v2-features").toString(), LAYER, true,
                TestData.model("stories260k").toString(), "adapter", new PromptTemplate(
                "<image>\nQuestion: {question}\nAnswer:", PromptTemplate.Scoring.OPTIONS, " ")).write(b);
        return b;
    }

    /** Balls of four colours as PNG data URLs. */
    static List<String> images() throws Exception {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            BufferedImage img = new BufferedImage(96, 96, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, 96, 96);
            g.setColor(PAINT[i]);
            g.fillOval(12 + 8 * i, 20, 40, 40);
            g.dispose();
            ByteArrayOutputStream out1 = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out1);
            out.add("data:image/png;base64," + Base64.getEncoder().encodeToString(out1.toByteArray()));
        }
        return out;
    }

    @BeforeAll
    static void start() throws Exception {
        vlm = VisionLanguageModel.load(bundle(dir).toString());
        server = GlimpseServer.builder(vlm).modelName("test-bundle").port(0).build().start();
        base = server.url();
        images.addAll(images());
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
        String[] q = QUESTIONS[i % 4];
        return JSON.writeValueAsString(Map.of("image", images.get(i % images.size()), "question", q[0], "choices",
                List.of(q).subList(1, q.length), "ignored_field", 42));
    }

    @Test
    void eightClientsFiftyRequestsEachAgreeWithSingleThreadedAnswers() throws Exception {
        List<JsonNode> expected = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            HttpResponse<String> r = post("/v1/answer", answerRequest(i));
            assertEquals(200, r.statusCode(), r.body());
            JsonNode n = JSON.readTree(r.body());
            assertTrue(n.get("letter").asText().matches("[A-D]"), n.toString());
            assertTrue(n.get("latency_ms").asDouble() > 0);
            expected.add(n);
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
                        String diff = differs(expected.get(i), n);
                        if (diff != null) {
                            errors.add("request " + i + ": " + diff);
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
        assertTrue(metrics.contains("glimpse_requests_total{code=\"200\",endpoint=\"/v1/answer\"} 408"), metrics);
        assertTrue(metrics.contains("glimpse_request_duration_seconds_bucket{endpoint=\"/v1/answer\",le=\"+Inf\"}"),
                metrics);
        assertTrue(metrics.contains("glimpse_queue_wait_seconds_count"), metrics);
        double single = ChatCompletionsTest.metric(metrics, "glimpse_batch_size_bucket{kind=\"score\",le=\"1.0\"}");
        double batches = ChatCompletionsTest.metric(metrics, "glimpse_batch_size_count{kind=\"score\"}");
        assertTrue(batches > single, "eight clients' questions were scored together at times: " + single + " of "
                + batches + " batches had one");
        assertTrue(metrics.contains("glimpse_queue_depth"), metrics);
        assertTrue(metrics.contains("jvm_memory_used_bytes"), "the JVM's own metrics: " + metrics);
    }

    /**
     * Null when a concurrent answer agrees with the one-at-a-time one: the same choice, probabilities within 1e-5
     * (requests that arrive together are scored in one padded batch, whose fp32 kernels round differently, ~1e-6).
     */
    static String differs(JsonNode alone, JsonNode batched) {
        if (!alone.get("answer").equals(batched.get("answer"))) {
            return batched.get("answer") + " != " + alone.get("answer");
        }
        for (var it = alone.get("probabilities").fields(); it.hasNext(); ) {
            var e = it.next();
            double b = batched.get("probabilities").path(e.getKey()).asDouble(Double.NaN);
            if (!(Math.abs(b - e.getValue().asDouble()) <= 1e-5)) {
                return "p(" + e.getKey() + ") " + b + " != " + e.getValue().asDouble();
            }
        }
        return null;
    }

    @Test
    void chatCompletionsAndHealth() throws Exception {
        String body = JSON.writeValueAsString(Map.of("model", "test-bundle", "max_tokens", 8, "messages", List.of(Map.of("role",
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
            {"/v1/chat/completions", chat(",\"n\":2"), 400, "'n'"},
            {"/v1/chat/completions", chat(",\"tools\":[{\"type\":\"function\"}]"), 400, "'tools'"},
            {"/v1/chat/completions", chat(",\"response_format\":{\"type\":\"json_object\"}"), 400,
                "'response_format'"},
            {"/v1/chat/completions", chat(",\"max_tokens\":0"), 400, "'max_tokens'"},
            {"/v1/chat/completions", chat(",\"max_tokens\":500"), 400, "context of 512"},
            {"/v1/chat/completions", chat(",\"temperature\":3"), 400, "'temperature'"},
            {"/v1/chat/completions", chat(",\"stop\":[1]"), 400, "'stop'"},
            {"/v1/chat/completions", chat(",\"top_logprobs\":3"), 400, "needs 'logprobs'"},
            {"/v1/chat/completions", chat(",\"stream_options\":{\"include_usage\":true}"), 400, "stream"},
            {"/v1/chat/completions", chat(",\"model\":\"gpt-4o\""), 404, "not served here"},
            {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
                + "\"content\":\"yo\"}]}", 400, "last message must be the user's"},
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

    static String chat(String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]" + extra + "}";
    }

    @Test
    void modelsListsWhatIsServed() throws Exception {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        JsonNode n = JSON.readTree(r.body());
        assertEquals("list", n.get("object").asText());
        assertEquals("test-bundle", n.get("data").get(0).get("id").asText());
        assertEquals("model", n.get("data").get(0).get("object").asText());
    }

    @Test
    void aFullQueueAnswers503WithRetryAfter() throws Exception {
        try (VisionLanguageModel small = VisionLanguageModel.load(dir.resolve("bundle").toString())) {
            GlimpseServer s = GlimpseServer.builder(small).modelName("small").port(0).queueCapacity(1).maxBatch(1)
                    .build().start();
            try {
                ExecutorService pool = Executors.newFixedThreadPool(32);
                List<Future<HttpResponse<String>>> fs = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    int k = i;
                    fs.add(pool.submit(() -> CLIENT.send(HttpRequest.newBuilder(URI.create(s.url() + "/v1/answer")).POST(HttpRequest.BodyPublishers.ofString(answerRequest(k))).build(),
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
}
