package dev.glimpse.samples.cli;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.samples.serve.GlimpseServer;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a vision-language model over HTTP: POST /v1/answer, POST /v1/chat/completions"
                + " (OpenAI-compatible), GET /health, GET /metrics. Stops gracefully on SIGTERM."},
        footer = {"", "Examples:", "  glimpse serve --model runs/demo/bundle --port 8080",
            "  curl -s localhost:8080/v1/answer -d '{\"image\":\"data:image/png;base64,...\",\"question\":\"What color is"
                    + " the ball?\",\"choices\":[\"red\",\"blue\"]}'"})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Bundle dir, LLaVA checkpoint dir, or hub id.")
    String model;

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

    @Option(names = "--batch", defaultValue = "8", description = "Largest micro-batch.")
    int batch;

    @Option(names = "--allow-remote-images", description = "Fetch http(s) image URLs (refused by default: SSRF).")
    boolean allowRemote;

    @Option(names = "--json", description = "Print {\"url\": ...} once listening.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        VisionLanguageModel vlm = GlimpseCli.loadModel(model);
        GlimpseServer server = new GlimpseServer(vlm, model, new GlimpseServer.Options(host, port,
                (long) maxBodyMb << 20, maxPixels, maxPromptTokens, queue, batch, allowRemote, 16));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("glimpse serve: stopping (finishing queued requests)");
            server.close();
            vlm.close();
            System.err.println("glimpse serve: stopped");
            stopped.countDown();
        }, "glimpse-shutdown"));
        server.start();
        String url = "http://" + host + ":" + server.port();
        out.println(json ? Json.write(java.util.Map.of("url", url)) : "serving " + model + " on " + url
                + " (Ctrl-C or SIGTERM to stop)");
        out.flush();
        stopped.await();
        return 0;
    }
}
