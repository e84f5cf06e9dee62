package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.fusion.Bundle;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.AdapterConfig;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.samples.demo.DemoRunner;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code glimpse serve} as a process: it answers, and SIGTERM stops it gracefully. */
class ServeCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void sigtermStopsTheCliServerGracefully(@TempDir Path dir) throws Exception {
        Path kit = Path.of("demo-kit").toAbsolutePath();
        Path b = dir.resolve("bundle");
        new Adapter(Projector.initialize(ProjectorType.MLP2X_GELU, 160, 64, false, 5), new AdapterConfig(
                ProjectorType.MLP2X_GELU, 160, 64, 64, 49, false, "mobilenet-v2-features", DemoRunner.LAYER,
                "stories260k")).save(b.resolve("adapter"));
        new Bundle(kit.resolve("mobilenet-v2-features").toString(), DemoRunner.LAYER, true,
                kit.resolve("stories260k").toString(), "adapter", DemoRunner.TEMPLATE).write(b);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "dev.glimpse.samples.cli.GlimpseCli", "serve", "--model", b.toString(), "--name", "demo", "--port", "0",
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
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url
                + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"demo\",\"max_tokens\""
                + ":4,\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped within a minute");
        String err = Files.readString(errLog);
        assertTrue(err.contains("glimpse serve: stopped"), err);
    }
}
