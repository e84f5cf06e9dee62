package dev.glimpse.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.fusion.VisionLanguageModel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /v1/chat/completions} as OpenAI clients use it: streaming, seeds, stops, logprobs, concurrent clients. */
class ChatCompletionsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newHttpClient();
    @TempDir
    static Path dir;
    static VisionLanguageModel vlm;
    static GlimpseServer server;
    static List<String> images;

    @BeforeAll
    static void start() throws Exception {
        vlm = VisionLanguageModel.load(GlimpseServerTest.bundle(dir).toString());
        server = GlimpseServer.builder(vlm).modelName("test-bundle").port(0).maxBatch(8).build().start();
        images = GlimpseServerTest.images();
    }

    @AfterAll
    static void stop() {
        server.close();
        vlm.close();
    }

    /** A request about image {@code i} (null: text only), with extra fields. */
    static ObjectNode request(Integer i, String question, Map<String, Object> extra) {
        List<Object> parts = new ArrayList<>();
        if (i != null) {
            parts.add(Map.of("type", "image_url", "image_url", Map.of("url", images.get(i))));
        }
        parts.add(Map.of("type", "text", "text", question));
        ObjectNode n = JSON.valueToTree(Map.of("model", "test-bundle", "messages", List.of(Map.of("role", "user",
                "content", parts))));
        extra.forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
        return n;
    }

    static JsonNode post(JsonNode body) throws Exception {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    /** The data events of a streamed answer, [DONE] excluded (it must be last). */
    static List<JsonNode> stream(JsonNode body) throws Exception {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<JsonNode> events = new ArrayList<>();
        String[] blocks = r.body().split("\n\n");
        for (int i = 0; i < blocks.length; i++) {
            assertTrue(blocks[i].startsWith("data: "), blocks[i]);
            String data = blocks[i].substring(6);
            if (data.equals("[DONE]")) {
                assertEquals(blocks.length - 1, i, "[DONE] ends the stream");
                return events;
            }
            events.add(JSON.readTree(data));
        }
        throw new AssertionError("no [DONE]: " + r.body());
    }

    static String content(JsonNode completion) {
        return completion.get("choices").get(0).get("message").get("content").asText();
    }

    static String streamedContent(List<JsonNode> events) {
        StringBuilder sb = new StringBuilder();
        for (JsonNode e : events) {
            for (JsonNode c : e.path("choices")) {
                sb.append(c.path("delta").path("content").asText(""));
            }
        }
        return sb.toString();
    }

    @Test
    void aStreamedAnswerEqualsTheWholeOneForTheSameSeed() throws Exception {
        for (Map<String, Object> sampling : List.of(Map.<String, Object>of("max_tokens", 24),
                Map.<String, Object>of("max_tokens", 24, "temperature", 0.9, "top_p", 0.95, "seed", 11))) {
            JsonNode whole = post(request(0, "Tell me about the ball.", sampling));
            Map<String, Object> s = new java.util.HashMap<>(sampling);
            s.put("stream", true);
            s.put("stream_options", Map.of("include_usage", true));
            List<JsonNode> events = stream(request(0, "Tell me about the ball.", s));
            assertFalse(content(whole).isEmpty());
            assertEquals(content(whole), streamedContent(events), "sampling " + sampling);
            assertTrue(events.size() > 3, "streamed in pieces: " + events.size() + " events");
            String id = events.get(0).get("id").asText();
            for (JsonNode e : events) {
                assertEquals("chat.completion.chunk", e.get("object").asText());
                assertEquals(id, e.get("id").asText(), "one id for the whole stream");
            }
            assertEquals("assistant", events.get(0).get("choices").get(0).get("delta").get("role").asText());
            JsonNode last = events.get(events.size() - 1);
            assertEquals(0, last.get("choices").size(), "the usage chunk has no choices");
            assertEquals(whole.get("usage"), last.get("usage"));
            JsonNode finish = events.get(events.size() - 2).get("choices").get(0);
            assertEquals(whole.get("choices").get(0).get("finish_reason").asText(), finish.get("finish_reason")
                    .asText());
        }
        // a different seed samples differently (24 tokens of stories260k: a tie is practically impossible)
        JsonNode a = post(request(0, "Tell me a story.", Map.of("max_tokens", 24, "temperature", 1.0, "seed", 1)));
        JsonNode b = post(request(0, "Tell me a story.", Map.of("max_tokens", 24, "temperature", 1.0, "seed", 2)));
        assertNotEquals(content(a), content(b));
    }

    @Test
    void stopStringsEndTheTextBeforeThem() throws Exception {
        JsonNode free = post(request(null, "Once upon a time", Map.of("max_tokens", 40)));
        String text = content(free);
        assertEquals("length", free.get("choices").get(0).get("finish_reason").asText());
        String[] words = text.strip().split(" ");
        assertTrue(words.length > 6, text);
        String stop = " " + words[4]; // a word well inside the text
        int at = text.indexOf(stop);
        for (boolean streamed : List.of(false, true)) {
            Map<String, Object> o = new java.util.HashMap<>(Map.of("max_tokens", 40, "stop", List.of(stop, "@@@")));
            if (streamed) {
                o.put("stream", true);
                List<JsonNode> events = stream(request(null, "Once upon a time", o));
                assertEquals(text.substring(0, at), streamedContent(events));
                assertEquals("stop", events.get(events.size() - 1).get("choices").get(0).get("finish_reason").asText());
            } else {
                JsonNode r = post(request(null, "Once upon a time", o));
                assertEquals(text.substring(0, at), content(r));
                assertEquals("stop", r.get("choices").get(0).get("finish_reason").asText());
                assertTrue(r.get("usage").get("completion_tokens").asInt() < 40, "generation stopped early");
            }
        }
    }

    @Test
    void logprobsForMultipleChoiceUse() throws Exception {
        JsonNode r = post(request(1, "Is the ball red or blue?", Map.of("max_tokens", 3, "logprobs", true,
                "top_logprobs", 5)));
        JsonNode content = r.get("choices").get(0).get("logprobs").get("content");
        assertEquals(r.get("usage").get("completion_tokens").asInt(), content.size(), "one entry per token");
        StringBuilder joined = new StringBuilder();
        for (JsonNode t : content) {
            JsonNode top = t.get("top_logprobs");
            assertEquals(5, top.size());
            // greedy: the chosen token is the most likely one; alternatives are sorted and are log-probabilities
            assertEquals(top.get(0).get("token").asText(), t.get("token").asText());
            assertEquals(top.get(0).get("logprob").asDouble(), t.get("logprob").asDouble(), 1e-9);
            double mass = 0;
            for (int i = 0; i < top.size(); i++) {
                double lp = top.get(i).get("logprob").asDouble();
                assertTrue(lp <= 0);
                if (i > 0) {
                    assertTrue(lp <= top.get(i - 1).get("logprob").asDouble());
                }
                mass += Math.exp(lp);
            }
            assertTrue(mass <= 1 + 1e-6, "top-5 probability mass " + mass);
            joined.append(t.get("token").asText());
        }
        assertEquals(content(r).replace(" ", ""), joined.toString().replace(" ", "").replace("\u2581", ""),
                "the tokens spell the answer");
        assertTrue(r.get("choices").get(0).get("message").has("refusal"));
    }

    @Test
    void concurrentClientsShareTheDecoderAndEachGetsItsSoloAnswer() throws Exception {
        List<ObjectNode> reqs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            reqs.add(request(i % 2 == 0 ? i % 4 : null, List.of("What is this?", "Once upon a time", "Describe it.",
                    "The dog").get(i % 4), Map.of("max_tokens", 6 + 4 * i)));
        }
        List<String> solo = new ArrayList<>();
        for (ObjectNode r : reqs) {
            solo.add(content(post(r)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<JsonNode>> fs = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            for (ObjectNode r : reqs) {
                fs.add(pool.submit(() -> post(r)));
            }
        }
        for (int k = 0; k < fs.size(); k++) {
            assertEquals(solo.get(k % 8), content(fs.get(k).get(2, TimeUnit.MINUTES)), "request " + (k % 8));
        }
        pool.shutdown();
        String metrics = CLIENT.send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        double one = metric(metrics, "glimpse_batch_size_bucket{kind=\"decode\",le=\"1.0\"}");
        double all = metric(metrics, "glimpse_batch_size_count{kind=\"decode\"}");
        assertTrue(all > one, "some decode steps ran more than one sequence: " + one + " of " + all
                + " steps had one");
        assertTrue(metric(metrics, "glimpse_time_to_first_token_seconds_count") >= 32, metrics);
        assertTrue(metric(metrics, "glimpse_generated_tokens_total") > 0, metrics);
    }

    static double metric(String text, String name) {
        for (String line : text.split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).strip());
            }
        }
        throw new AssertionError("no " + name + " in\n" + text);
    }
}
