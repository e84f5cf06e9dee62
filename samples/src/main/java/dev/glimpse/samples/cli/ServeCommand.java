package dev.glimpse.samples.cli;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.server.GlimpseServer;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a vision-language model over HTTP: POST /v1/chat/completions (OpenAI-compatible, with"
                + " streaming), GET /v1/models, POST /v1/answer, GET /health, GET /metrics (Prometheus). Requests that"
                + " arrive together share the LLM's forward passes (continuous batching). Stops gracefully on"
                + " SIGTERM."},
        footer = {"", "Examples:", "  glimpse serve --model runs/demo/bundle --port 8080",
            "  curl -N localhost:8080/v1/chat/completions -d '{\"model\":\"runs/demo/bundle\",\"stream\":true,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}'",
            "  curl -s localhost:8080/v1/answer -d '{\"image\":\"data:image/png;base64,...\",\"question\":\"What color is"
                    + " the ball?\",\"choices\":[\"red\",\"blue\"]}'"})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Bundle dir, LLaVA checkpoint dir, or hub id.")
    String model;

    @picocli.CommandLine.Mixin
    EngineOptions engineOptions = new EngineOptions();

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Bind address (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080")
    int port;

    @Option(names = "--max-body-mb", defaultValue = "20", description = "Request body limit in MB (413 above).")
    int maxBodyMb;

    @Option(names = "--max-pixels", defaultValue = "50000000", description = "Image pixel limit.")
    long maxPixels;

    @Option(names = "--max-prompt-tokens", defaultValue = "4096")
    int maxPromptTokens;

    @Option(names = "--queue", defaultValue = "64", description = "Queue capacity (503 with Retry-After when full).")
    int queue;

    @Option(names = "--batch", defaultValue = "16", description = "Most sequences decoding together (default"
            + " ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--allow-remote-images", description = "Fetch http(s) image URLs (refused by default: SSRF).")
    boolean allowRemote;

    @Option(names = "--name", description = "Model id clients send and GET /v1/models lists (default: --model).")
    String name;

    @Option(names = "--json", description = "Print {\"url\": ...} once listening.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        VisionLanguageModel vlm = engineOptions.load(model);
        GlimpseServer server = GlimpseServer.builder(vlm).modelName(name != null ? name : model).host(host).port(port)
                .maxBodyBytes((long) maxBodyMb << 20).maxPixels(maxPixels).maxPromptTokens(maxPromptTokens)
                .queueCapacity(queue).maxBatch(batch).allowRemoteImages(allowRemote).build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("glimpse serve: stopping (finishing queued requests)");
            server.close();
            vlm.close();
            System.err.println("glimpse serve: stopped");
            stopped.countDown();
        }, "glimpse-shutdown"));
        server.start();
        String url = server.url();
        out.println(json ? Json.write(java.util.Map.of("url", url)) : "serving " + model + " on " + url
                + " (Ctrl-C or SIGTERM to stop)");
        out.flush();
        stopped.await();
        return 0;
    }
}
