package dev.glimpse.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.InferenceEngine;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service on the ONNX engine (fp32) answers what it answers on DJL: the same chat completions (whole and
 * streamed, with log-probabilities) and the same multiple-choice answers, also under concurrent clients, whose
 * chats both engines decode in one batch (continuous batching).
 */
class OnnxServeTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newHttpClient();

    @Test
    void onnxEngineServesWhatDjlServes(@TempDir Path dir) throws Exception {
        Path bundle = GlimpseServerTest.bundle(dir);
        List<String> images = GlimpseServerTest.images();
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            bodies.add(JSON.writeValueAsString(Map.of("model", "m", "max_tokens", 16, "logprobs", true,
                    "top_logprobs", 2, "messages", List.of(Map.of("role", "user", "content", List.of(
                            Map.of("type", "image_url", "image_url", Map.of("url", images.get(i))),
                            Map.of("type", "text", "text", "What is in the picture?")))))));
        }
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            answers.add(JSON.writeValueAsString(Map.of("image", images.get(i), "question", "Which colour?",
                    "choices", List.of("red", "green", "blue"))));
        }
        List<JsonNode> djl = run(VisionLanguageModel.load(bundle.toString()), bodies, answers);
        List<JsonNode> onnx = run(VisionLanguageModel.builder().model(bundle.toString())
                .engine(InferenceEngine.ONNX).onnxCache(dir.resolve("onnx")).build(), bodies, answers);
        assertEquals(djl.size(), onnx.size());
        for (int i = 0; i < djl.size(); i++) {
            JsonNode a = djl.get(i);
            JsonNode b = onnx.get(i);
            if (a.has("choices")) {
                JsonNode ca = a.get("choices").get(0);
                JsonNode cb = b.get("choices").get(0);
                assertEquals(ca.get("message").get("content"), cb.get("message").get("content"), "chat " + i);
                assertEquals(ca.get("finish_reason"), cb.get("finish_reason"));
                JsonNode la = ca.get("logprobs").get("content");
                JsonNode lb = cb.get("logprobs").get("content");
                assertEquals(la.size(), lb.size());
                for (int k = 0; k < la.size(); k++) {
                    assertEquals(la.get(k).get("token"), lb.get(k).get("token"));
                    assertEquals(la.get(k).get("logprob").asDouble(), lb.get(k).get("logprob").asDouble(), 1e-4);
                }
            } else {
                assertEquals(a.get("letter"), b.get("letter"), "answer " + i);
                for (String k : List.of("A", "B", "C")) {
                    assertEquals(a.get("probabilities").get(k).asDouble(), b.get("probabilities").get(k).asDouble(),
                            1e-4);
                }
            }
        }
    }

    /** Each chat and answer request once in turn, then all together from 8 clients (which must agree). */
    static List<JsonNode> run(VisionLanguageModel vlm, List<String> chats, List<String> answers) throws Exception {
        try (vlm; GlimpseServer server = GlimpseServer.builder(vlm).modelName("m").port(0).maxBatch(8).build()
                .start()) {
            List<JsonNode> out = new ArrayList<>();
            for (int i = 0; i < chats.size(); i++) {
                out.add(post(server, "/v1/chat/completions", chats.get(i)));
                out.add(post(server, "/v1/answer", answers.get(i)));
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<JsonNode>> fs = new ArrayList<>();
            for (int k = 0; k < 24; k++) { // three rounds of 4 chats and 4 answers
                int c = k % 8;
                int i = c % chats.size();
                String path = c < 4 ? "/v1/chat/completions" : "/v1/answer";
                String body = c < 4 ? chats.get(i) : answers.get(i);
                fs.add(pool.submit(() -> post(server, path, body)));
            }
            for (int k = 0; k < 24; k++) {
                int c = k % 8;
                JsonNode got = fs.get(k).get();
                JsonNode want = out.get(2 * (c % chats.size()) + (c < 4 ? 0 : 1));
                if (c < 4) {
                    assertEquals(want.get("choices").get(0).get("message"), got.get("choices").get(0).get("message"));
                } else {
                    assertEquals(want.get("letter"), got.get("letter"));
                }
            }
            pool.shutdown();
            // both engines batch concurrent chats: some decode steps ran more than one sequence
            String metrics = CLIENT.send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            double one = ChatCompletionsTest.metric(metrics, "glimpse_batch_size_bucket{kind=\"decode\",le=\"1.0\"}");
            double all = ChatCompletionsTest.metric(metrics, "glimpse_batch_size_count{kind=\"decode\"}");
            assertTrue(all > one, vlm.engine() + ": " + one + " of " + all + " decode steps had one sequence");
            return out;
        }
    }

    static JsonNode post(GlimpseServer server, String path, String body) throws Exception {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(server.url() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode n = JSON.readTree(r.body());
        assertTrue(n.size() > 0);
        return n;
    }
}
