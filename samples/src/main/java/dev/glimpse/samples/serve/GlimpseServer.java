package dev.glimpse.samples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.vision.Features;
import dev.glimpse.vision.ImageLoader;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Glimpse over HTTP: {@code POST /v1/answer}, an OpenAI-compatible {@code POST /v1/chat/completions},
 * {@code GET /health} and {@code GET /metrics} (Prometheus). Requests go through a bounded queue to one model worker
 * that takes them in micro-batches (the images of a batch are encoded by the tower in one call); a full queue answers
 * 503 with Retry-After. Every limit gives a clear JSON error: body size (413), pixels, prompt length, malformed JSON
 * or base64 (400). Binds 127.0.0.1 by default; remote image URLs are refused unless allowed.
 */
public final class GlimpseServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GlimpseServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Server settings. */
    public record Options(String host, int port, long maxBodyBytes, long maxPixels, int maxPromptTokens,
                          int queueCapacity, int maxBatch, boolean allowRemoteImages, int httpThreads) {
        public static Options defaults() {
            return new Options("127.0.0.1", 8080, 20L << 20, ImageLoader.DEFAULT_MAX_PIXELS, 4096, 64, 8, false, 16);
        }

        public Options withPort(int p) {
            return new Options(host, p, maxBodyBytes, maxPixels, maxPromptTokens, queueCapacity, maxBatch,
                    allowRemoteImages, httpThreads);
        }
    }

    /** An HTTP error with its status. */
    static final class HttpError extends RuntimeException {
        final int status;

        HttpError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** Work for the model: a question to answer, or a chat prompt to continue. */
    private record Job(Question question, String chatPrompt, List<BufferedImage> images, GenerationOptions generation,
                       CompletableFuture<Object> result) {}

    private record ChatResult(String text, int promptTokens, int completionTokens) {}

    private final VisionLanguageModel vlm;
    private final String modelName;
    private final Options options;
    private final ImageLoader loader;
    private final BlockingQueue<Job> queue;
    private final Metrics metrics;
    private final HttpServer http;
    private final ExecutorService httpPool;
    private final Thread worker;
    private volatile boolean running = true;

    public GlimpseServer(VisionLanguageModel vlm, String modelName, Options options) throws IOException {
        this.vlm = vlm;
        this.modelName = modelName;
        this.options = options;
        this.loader = new ImageLoader(options.maxPixels(), options.maxBodyBytes());
        this.queue = new ArrayBlockingQueue<>(options.queueCapacity());
        this.metrics = new Metrics(queue::size);
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 128);
        this.httpPool = Executors.newFixedThreadPool(options.httpThreads());
        http.setExecutor(httpPool);
        http.createContext("/", this::handle);
        this.worker = new Thread(this::work, "glimpse-model-worker");
        worker.setDaemon(true);
    }

    public void start() {
        worker.start();
        http.start();
        LOG.info("Glimpse serving " + modelName + " on http://" + options.host() + ":" + port());
    }

    public int port() {
        return http.getAddress().getPort();
    }

    // ---- HTTP ----

    private void handle(HttpExchange ex) {
        long start = System.nanoTime();
        String path = ex.getRequestURI().getPath();
        String endpoint = switch (path) {
            case "/v1/answer", "/v1/chat/completions", "/health", "/metrics" -> path;
            default -> "other";
        };
        int status;
        BODY.remove();
        try {
            if (!ex.getRequestMethod().equalsIgnoreCase("GET")) {
                String len = ex.getRequestHeaders().getFirst("Content-Length");
                if (len != null && len.matches("\\d+") && Long.parseLong(len) > options.maxBodyBytes()) {
                    if (Long.parseLong(len) <= 4L * options.maxBodyBytes()) {
                        drain(ex.getRequestBody(), Long.parseLong(len)); // so the client can read the 413
                    }
                    throw new HttpError(413, "request body of " + len + " bytes is over the limit of "
                            + options.maxBodyBytes());
                }
                body(ex);
            }
            status = route(ex, path);
        } catch (HttpError e) {
            status = e.status;
            error(ex, e.status, e.getMessage());
        } catch (BadInputException e) {
            status = 400;
            error(ex, 400, e.getMessage());
        } catch (RuntimeException e) {
            status = 500;
            LOG.warn("internal error on " + path + ": " + e);
            error(ex, 500, "internal error: " + e.getClass().getSimpleName());
        } finally {
            BODY.remove();
            ex.close();
        }
        metrics.record(endpoint, status, (System.nanoTime() - start) / 1e9);
    }

    /** The request body, read once and fully (so every answer, errors included, leaves the connection clean). */
    private static final ThreadLocal<byte[]> BODY = new ThreadLocal<>();

    private byte[] body(HttpExchange ex) {
        byte[] b = BODY.get();
        if (b != null) {
            return b;
        }
        long max = options.maxBodyBytes();
        try (InputStream in = ex.getRequestBody()) {
            b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
            if (b.length > max) {
                drain(in, 4 * max); // let the client finish sending so it can read the 413
                BODY.set(new byte[0]);
                throw new HttpError(413, "request body is over the limit of " + max + " bytes");
            }
        } catch (IOException e) {
            throw new HttpError(400, "cannot read the request body: " + e.getMessage());
        }
        BODY.set(b);
        return b;
    }

    /** Reads and discards up to {@code limit} bytes (skip() may stop early; the server then drops the connection). */
    private static void drain(InputStream in, long limit) {
        byte[] buf = new byte[1 << 16];
        long left = limit;
        try {
            int n;
            while (left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) >= 0) {
                left -= n;
            }
        } catch (IOException ignored) {
            // the client gave up: nothing more to read
        }
    }

    private int route(HttpExchange ex, String path) {
        switch (path) {
            case "/health" -> {
                requireMethod(ex, "GET");
                ObjectNode n = JSON.createObjectNode().put("status", running ? "ok" : "stopping").put("model", modelName)
                        .put("queue_depth", queue.size());
                return send(ex, running ? 200 : 503, n);
            }
            case "/metrics" -> {
                requireMethod(ex, "GET");
                byte[] body = metrics.render().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
                return raw(ex, 200, body);
            }
            case "/v1/answer" -> {
                requireMethod(ex, "POST");
                return answer(ex, readJson(ex));
            }
            case "/v1/chat/completions" -> {
                requireMethod(ex, "POST");
                return chat(ex, readJson(ex));
            }
            default -> throw new HttpError(404, "no endpoint " + path
                    + " (try POST /v1/answer, POST /v1/chat/completions, GET /health, GET /metrics)");
        }
    }

    private static void requireMethod(HttpExchange ex, String method) {
        if (!ex.getRequestMethod().equalsIgnoreCase(method)) {
            ex.getResponseHeaders().set("Allow", method);
            throw new HttpError(405, ex.getRequestURI().getPath() + " takes " + method);
        }
    }

    private JsonNode readJson(HttpExchange ex) {
        try {
            JsonNode n = JSON.readTree(body(ex));
            if (n == null || !n.isObject()) {
                throw new HttpError(400, "the body must be a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new HttpError(400, "malformed JSON: " + e.getMessage().split("\n")[0]);
        }
    }

    private int answer(HttpExchange ex, JsonNode req) {
        long start = System.nanoTime();
        String question = text(req, "question", true);
        List<String> choices = new ArrayList<>();
        JsonNode c = req.get("choices");
        if (c != null && !c.isNull()) {
            if (!c.isArray()) {
                throw new HttpError(400, "'choices' must be a list of strings");
            }
            for (JsonNode x : c) {
                if (!x.isTextual()) {
                    throw new HttpError(400, "'choices' must be a list of strings");
                }
                choices.add(x.asText());
            }
            if (choices.size() == 1 || choices.size() > 26) {
                throw new HttpError(400, "'choices' needs 2 to 26 options");
            }
        }
        List<BufferedImage> images = new ArrayList<>();
        JsonNode img = req.get("image");
        if (img != null && !img.isNull()) {
            if (!img.isTextual()) {
                throw new HttpError(400, "'image' must be a base64 string or a data URL");
            }
            images.add(image(img.asText(), "image"));
        }
        Question q = new Question(images, question, choices, text(req, "context", false));
        checkPromptLength(vlm.template().render(q), images.size());
        Answer a = (Answer) submit(new Job(q, null, images, null, new CompletableFuture<>()));
        ObjectNode n = JSON.createObjectNode();
        n.put("answer", a.text());
        n.put("letter", a.letter());
        ObjectNode p = n.putObject("probabilities");
        a.probabilities().forEach(p::put);
        n.put("latency_ms", Math.round((System.nanoTime() - start) / 1e6 * 10) / 10.0);
        return send(ex, 200, n);
    }

    private int chat(HttpExchange ex, JsonNode req) {
        JsonNode messages = req.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw new HttpError(400, "'messages' must be a non-empty list");
        }
        StringBuilder prompt = new StringBuilder();
        List<BufferedImage> images = new ArrayList<>();
        for (JsonNode m : messages) {
            String role = m.path("role").asText("");
            if (!List.of("system", "user", "assistant").contains(role)) {
                throw new HttpError(400, "message role must be system, user or assistant, not '" + role + "'");
            }
            JsonNode content = m.get("content");
            StringBuilder text = new StringBuilder();
            if (content != null && content.isTextual()) {
                text.append(content.asText());
            } else if (content != null && content.isArray()) {
                for (JsonNode part : content) {
                    switch (part.path("type").asText("")) {
                        case "text" -> text.append(part.path("text").asText());
                        case "image_url" -> {
                            JsonNode u = part.path("image_url");
                            String url = u.isTextual() ? u.asText() : u.path("url").asText("");
                            images.add(image(url, "image_url"));
                            text.append(MultimodalPrompt.IMAGE).append('\n');
                        }
                        default -> throw new HttpError(400, "content part type must be text or image_url, not '"
                                + part.path("type").asText("") + "'");
                    }
                }
            } else {
                throw new HttpError(400, "message content must be a string or a list of parts");
            }
            prompt.append(text).append('\n');
        }
        int maxTokens = req.path("max_tokens").asInt(req.path("max_completion_tokens").asInt(64));
        if (maxTokens < 1 || maxTokens > 4096) {
            throw new HttpError(400, "'max_tokens' must be between 1 and 4096");
        }
        double temperature = req.path("temperature").asDouble(0);
        GenerationOptions.Builder g = GenerationOptions.builder().maxNewTokens(maxTokens).seed(req.path("seed").asLong(0));
        if (temperature > 0) {
            g.sample(temperature, 0, req.path("top_p").asDouble(1.0));
        }
        String p = prompt.toString();
        int promptTokens = checkPromptLength(p, images.size());
        ChatResult r = (ChatResult) submit(new Job(null, p, images, g.build(), new CompletableFuture<>()));
        ObjectNode n = JSON.createObjectNode();
        n.put("id", "chatcmpl-" + UUID.randomUUID());
        n.put("object", "chat.completion");
        n.put("created", System.currentTimeMillis() / 1000);
        n.put("model", modelName);
        ArrayNode choices = n.putArray("choices");
        ObjectNode ch = choices.addObject();
        ch.put("index", 0);
        ch.putObject("message").put("role", "assistant").put("content", r.text());
        ch.put("finish_reason", r.completionTokens() >= maxTokens ? "length" : "stop");
        n.putObject("usage").put("prompt_tokens", promptTokens).put("completion_tokens", r.completionTokens())
                .put("total_tokens", promptTokens + r.completionTokens());
        return send(ex, 200, n);
    }

    private int checkPromptLength(String prompt, int images) {
        int text = vlm.llm().requireTokenizer().encode(prompt.replace(MultimodalPrompt.IMAGE, "")).length;
        int total = text + images * vlm.tower().numTokens();
        int limit = Math.min(options.maxPromptTokens(), vlm.llm().config().maxPositionEmbeddings());
        if (total > limit) {
            throw new HttpError(400, "prompt of " + total + " tokens (" + images + " image(s) of "
                    + vlm.tower().numTokens() + ") is over the limit of " + limit);
        }
        return total;
    }

    private BufferedImage image(String ref, String field) {
        if (ref.startsWith("http://") || ref.startsWith("https://")) {
            if (!options.allowRemoteImages()) {
                throw new HttpError(400, "'" + field + "': remote image URLs are refused (send a data URL, or start"
                        + " the server with --allow-remote-images)");
            }
            try {
                HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                        .followRedirects(HttpClient.Redirect.NORMAL).build();
                HttpResponse<InputStream> r = c.send(HttpRequest.newBuilder(URI.create(ref))
                        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofInputStream());
                if (r.statusCode() != 200) {
                    throw new HttpError(400, "'" + field + "': fetching the image answered HTTP " + r.statusCode());
                }
                try (InputStream in = r.body()) {
                    return loader.load(in, field);
                }
            } catch (IOException | IllegalArgumentException e) {
                throw new HttpError(400, "'" + field + "': cannot fetch the image: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HttpError(503, "interrupted");
            }
        }
        return loader.loadBase64(ref, "'" + field + "'");
    }

    private static String text(JsonNode req, String field, boolean required) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new HttpError(400, "field '" + field + "' is required");
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new HttpError(400, "field '" + field + "' must be a string");
        }
        if (required && v.asText().isBlank()) {
            throw new HttpError(400, "field '" + field + "' is empty");
        }
        return v.asText();
    }

    private Object submit(Job job) {
        if (!running) {
            throw new HttpError(503, "the server is shutting down");
        }
        if (!queue.offer(job)) {
            throw new HttpError(503, "the model queue is full (" + options.queueCapacity() + "); retry shortly");
        }
        try {
            return job.result().get(5, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(c);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new HttpError(503, "the model did not answer in time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "interrupted");
        }
    }

    private static int send(HttpExchange ex, int status, JsonNode body) {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        try {
            return raw(ex, status, JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int raw(HttpExchange ex, int status, byte[] body) {
        try {
            ex.sendResponseHeaders(status, body.length);
            ex.getResponseBody().write(body);
        } catch (IOException e) {
            LOG.debug("client went away: " + e.getMessage());
        }
        return status;
    }

    private void error(HttpExchange ex, int status, String message) {
        if (status == 503) {
            ex.getResponseHeaders().set("Retry-After", "1");
        }
        ObjectNode n = JSON.createObjectNode();
        n.putObject("error").put("message", message).put("code", status);
        send(ex, status, n);
    }

    // ---- the model worker: micro-batches ----

    private void work() {
        while (running || !queue.isEmpty()) {
            List<Job> batch = new ArrayList<>();
            try {
                Job first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, options.maxBatch() - 1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            List<float[]> features = List.of();
            List<BufferedImage> all = new ArrayList<>();
            batch.forEach(j -> all.addAll(j.images()));
            try {
                if (!all.isEmpty()) {
                    Features f = vlm.tower().encode(all); // the batch's images in one tower call
                    features = new ArrayList<>();
                    for (int i = 0; i < all.size(); i++) {
                        features.add(f.image(i));
                    }
                }
            } catch (RuntimeException e) {
                batch.forEach(j -> j.result().completeExceptionally(e));
                continue;
            }
            int k = 0;
            for (Job j : batch) {
                List<float[]> mine = features.isEmpty() ? List.of() : features.subList(k, k + j.images().size());
                k += j.images().size();
                try {
                    if (j.question() != null) {
                        j.result().complete(vlm.answer(j.question(), mine));
                    } else {
                        String text = vlm.generate(j.chatPrompt(), mine, j.generation());
                        int n = vlm.llm().requireTokenizer().encode(text, false).length;
                        j.result().complete(new ChatResult(text, 0, n));
                    }
                } catch (RuntimeException e) {
                    j.result().completeExceptionally(e);
                }
            }
        }
    }

    /** Stops accepting, lets queued work finish, then stops (the caller closes the model). */
    @Override
    public void close() {
        running = false; // new work is refused with 503 from here on
        try {
            worker.join(TimeUnit.SECONDS.toMillis(60)); // queued work finishes and is answered
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        http.stop(1);
        httpPool.shutdown();
        LOG.info(String.format(Locale.ROOT, "Glimpse server stopped"));
    }
}
