package dev.glimpse.samples.examples;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.server.GlimpseServer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/**
 * Embed the server in a Java service and read a streamed chat completion as OpenAI clients do (Server-Sent Events):
 * each {@code data:} line is a {@code chat.completion.chunk}, the last is {@code [DONE]}.
 *
 * <pre>java ... ServeAndStream runs/demo/bundle "Once upon a time"</pre>
 */
public final class ServeAndStream {
    private ServeAndStream() {}

    public static void main(String[] args) throws Exception {
        try (VisionLanguageModel vlm = VisionLanguageModel.load(args[0]);
             GlimpseServer server = GlimpseServer.builder(vlm).modelName("demo").port(0).build().start()) {
            String body = "{\"model\":\"demo\",\"stream\":true,\"max_tokens\":24,\"messages\":[{\"role\":\"user\","
                    + "\"content\":" + com.fasterxml.jackson.databind.node.TextNode.valueOf(args[1]) + "}]}";
            HttpResponse<InputStream> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(server.url() + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(body))
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                int events = 0;
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data: ")) {
                        events++;
                        System.out.println(line);
                    }
                }
                System.out.println(events + " events");
            }
        }
    }
}
