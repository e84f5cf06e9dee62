package dev.glimpse.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.ChatInput;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.ImageResolver;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Glimpse over HTTP. {@code POST /v1/chat/completions} as OpenAI clients expect it (Server-Sent Events streaming,
 * the model's chat template, images where they appear, sampling, stops, logprobs, usage; a 400 naming any parameter
 * Glimpse cannot honour), {@code GET /v1/models}, {@code POST /v1/answer} (multiple choice by option likelihood),
 * {@code GET /health} and {@code GET /metrics} (Prometheus). Requests go through a bounded queue to one model worker
 * that decodes with continuous batching; a full queue answers 503 with Retry-After. Every limit gives a clear JSON
 * error: body size (413), pixels, prompt length, malformed JSON or base64 (400). Binds 127.0.0.1 by default; remote
 * image URLs are refused unless allowed.
 *
 * <pre>{@code
 * try (GlimpseServer server = GlimpseServer.builder(vlm).modelName("my-bundle").port(8080).build().start()) {
 *     ...
 * }
 * }</pre>
 */
public final class GlimpseServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GlimpseServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Settings, with the defaults of {@code glimpse serve}. */
    public static final class Builder {
        private final VisionLanguageModel vlm;
        private String modelName = "glimpse";
        private String host = "127.0.0.1";
        private int port = 8080;
        private long maxBodyBytes = 20L << 20;
        private long maxPixels = ImageLoader.DEFAULT_MAX_PIXELS;
        private int maxPromptTokens = 4096;
        private int queueCapacity = 64;
        private int maxBatch = 16;
        private boolean allowRemoteImages;
        private int httpThreads = 32;

        private Builder(VisionLanguageModel vlm) {
            this.vlm = vlm;
        }

        /** The id clients send as {@code model} and {@code GET /v1/models} lists. */
        public Builder modelName(String name) {
            this.modelName = name;
            return this;
        }

        /** Bind address; 127.0.0.1 (loopback only) unless told otherwise. */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        /** Port; 0 picks a free one ({@link #port()} tells which). */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Largest request body (413 above). */
        public Builder maxBodyBytes(long bytes) {
            this.maxBodyBytes = bytes;
            return this;
        }

        /** Largest image, in pixels. */
        public Builder maxPixels(long pixels) {
            this.maxPixels = pixels;
            return this;
        }

        /** Longest prompt, images included (also bounded by the LLM's max_position_embeddings). */
        public Builder maxPromptTokens(int tokens) {
            this.maxPromptTokens = tokens;
            return this;
        }

        /** Requests that may wait for the model; more get 503 with Retry-After. */
        public Builder queueCapacity(int n) {
            this.queueCapacity = n;
            return this;
        }

        /** Most sequences decoding together (continuous batching). */
        public Builder maxBatch(int n) {
            this.maxBatch = n;
            return this;
        }

        /** Fetch http(s) image URLs (off by default: a server that fetches URLs can be abused, SSRF). */
        public Builder allowRemoteImages(boolean allow) {
            this.allowRemoteImages = allow;
            return this;
        }

        /** Threads reading requests and writing answers (streams hold one each while they last). */
        public Builder httpThreads(int n) {
            this.httpThreads = n;
            return this;
        }

        public GlimpseServer build() throws IOException {
            if (queueCapacity < 1 || maxBatch < 1 || httpThreads < 1 || maxBodyBytes < 1 || maxPromptTokens < 1) {
                throw new IllegalArgumentException("queue capacity, batch, threads, body and prompt limits must be"
                        + " positive");
            }
            return new GlimpseServer(this);
        }
    }

    private final VisionLanguageModel vlm;
    private final String modelName;
    private final Builder options;
    private final ImageLoader loader;
    private final ImageResolver images;
    private final ModelWorker worker;
    private final ServerMetrics metrics;
    private final HttpServer http;
    private final ExecutorService httpPool;
    private final long startedAt = System.currentTimeMillis() / 1000;

    public static Builder builder(VisionLanguageModel vlm) {
        return new Builder(vlm);
    }

    private GlimpseServer(Builder b) throws IOException {
        this.vlm = b.vlm;
        this.modelName = b.modelName;
        this.options = b;
        this.loader = new ImageLoader(b.maxPixels, b.maxBodyBytes);
        this.images = new ImageResolver(loader, false, b.allowRemoteImages, "send a data URL, or start the server"
                + " with --allow-remote-images");
        ModelWorker[] w = new ModelWorker[1];
        this.metrics = new ServerMetrics(() -> w[0] == null ? 0 : w[0].queued(), () -> w[0] == null ? 0
                : w[0].active());
        this.worker = new ModelWorker(vlm, b.queueCapacity, b.maxBatch, metrics);
        w[0] = worker;
        this.http = HttpServer.create(new InetSocketAddress(b.host, b.port), 128);
        this.httpPool = Executors.newFixedThreadPool(b.httpThreads);
        http.setExecutor(httpPool);
        http.createContext("/", this::handle);
    }

    public GlimpseServer start() {
        worker.start();
        http.start();
        LOG.info("Glimpse serving " + modelName + " on " + url());
        return this;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** {@code http://host:port}. */
    public String url() {
        return "http://" + options.host + ":" + port();
    }

    // ---- HTTP ----

    private void handle(HttpExchange ex) {
        long start = System.nanoTime();
        String path = ex.getRequestURI().getPath();
        String endpoint = switch (path) {
            case "/v1/answer", "/v1/chat/completions", "/v1/models", "/health", "/metrics" -> path;
            default -> "other";
        };
        int status;
        BODY.remove();
        try {
            if (!ex.getRequestMethod().equalsIgnoreCase("GET")) {
                String len = ex.getRequestHeaders().getFirst("Content-Length");
                if (len != null && len.matches("\\d+") && Long.parseLong(len) > options.maxBodyBytes) {
                    if (Long.parseLong(len) <= 4L * options.maxBodyBytes) {
                        drain(ex.getRequestBody(), Long.parseLong(len)); // so the client can read the 413
                    }
                    throw new HttpError(413, "request body of " + len + " bytes is over the limit of "
                            + options.maxBodyBytes);
                }
                body(ex);
            }
            status = route(ex, path);
        } catch (HttpError e) {
            status = e.status;
            error(ex, e.status, e.getMessage(), e.param);
        } catch (BadInputException e) {
            status = 400;
            error(ex, 400, e.getMessage(), null);
        } catch (RuntimeException e) {
            status = 500;
            LOG.warn("internal error on " + path + ": " + e);
            error(ex, 500, "internal error: " + e.getClass().getSimpleName(), null);
        } finally {
            BODY.remove();
            ex.close();
        }
        metrics.request(endpoint, status, (System.nanoTime() - start) / 1e9);
    }

    /** The request body, read once and fully (so every answer, errors included, leaves the connection clean). */
    private static final ThreadLocal<byte[]> BODY = new ThreadLocal<>();

    private byte[] body(HttpExchange ex) {
        byte[] b = BODY.get();
        if (b != null) {
            return b;
        }
        long max = options.maxBodyBytes;
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
                boolean up = worker.running();
                ObjectNode n = JSON.createObjectNode().put("status", up ? "ok" : "stopping").put("model", modelName)
                        .put("queue_depth", worker.queued()).put("active_sequences", worker.active());
                return send(ex, up ? 200 : 503, n);
            }
            case "/metrics" -> {
                requireMethod(ex, "GET");
                ex.getResponseHeaders().set("Content-Type", metrics.contentType());
                return raw(ex, 200, metrics.render());
            }
            case "/v1/models" -> {
                requireMethod(ex, "GET");
                ObjectNode n = JSON.createObjectNode().put("object", "list");
                n.putArray("data").addObject().put("id", modelName).put("object", "model").put("created", startedAt)
                        .put("owned_by", "glimpse");
                return send(ex, 200, n);
            }
            case "/v1/answer" -> {
                requireMethod(ex, "POST");
                return answer(ex, readJson(ex));
            }
            case "/v1/chat/completions" -> {
                requireMethod(ex, "POST");
                return chat(ex, readJson(ex));
            }
            default -> throw new HttpError(404, "no endpoint " + path + " (try POST /v1/chat/completions, GET"
                    + " /v1/models, POST /v1/answer, GET /health, GET /metrics)");
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
        Question q = AnswerRequest.parse(req, this::image);
        List<BufferedImage> images = q.images();
        checkPromptLength(vlm.promptTokens(vlm.template().render(q)), images.size(), 0);
        ModelWorker.AnswerJob job = new ModelWorker.AnswerJob(q);
        submit(job);
        Answer a = await(job.result);
        ObjectNode n = JSON.createObjectNode();
        n.put("answer", a.text());
        n.put("letter", a.letter());
        ObjectNode p = n.putObject("probabilities");
        a.probabilities().forEach(p::put);
        n.put("latency_ms", Math.round((System.nanoTime() - start) / 1e6 * 10) / 10.0);
        return send(ex, 200, n);
    }

    private int chat(HttpExchange ex, JsonNode req) {
        JsonNode model = req.get("model");
        if (model != null && !model.isNull() && !model.asText().equals(modelName)) {
            throw new HttpError(404, "the model '" + model.asText() + "' is not served here; this server serves '"
                    + modelName + "' (GET /v1/models)", "model");
        }
        ChatRequest r = ChatRequest.parse(req, this::image);
        ChatInput in = r.input();
        MultimodalPrompt prompt = vlm.encode(in.prompt(vlm.tokenizer())); // tokenized once, here
        checkPromptLength(prompt.ids().length, in.images().size(), in.options().maxNewTokens());
        ModelWorker.ChatJob job = new ModelWorker.ChatJob(prompt, in.images(), in.options(), in.stops(),
                r.logprobs(), r.topLogprobs());
        submit(job);
        String id = "chatcmpl-" + UUID.randomUUID();
        long created = System.currentTimeMillis() / 1000;
        return r.stream() ? stream(ex, job, r, id, created) : complete(ex, job, r, id, created);
    }

    /** The whole completion in one JSON body. */
    private int complete(HttpExchange ex, ModelWorker.ChatJob job, ChatRequest r, String id, long created) {
        StringBuilder text = new StringBuilder();
        ArrayNode logprobs = JSON.createArrayNode();
        ModelWorker.Done done;
        while (true) {
            ModelWorker.Event e = next(job);
            if (e instanceof ModelWorker.Delta d) {
                text.append(d.text());
                d.logprobs().forEach(l -> logprobs.add(logprobJson(l)));
            } else if (e instanceof ModelWorker.Done d) {
                done = d;
                break;
            } else {
                throw ((ModelWorker.Failed) e).error();
            }
        }
        ObjectNode n = head(id, "chat.completion", created);
        ObjectNode ch = n.putArray("choices").addObject();
        ch.put("index", 0);
        ch.putObject("message").put("role", "assistant").put("content", text.toString()).putNull("refusal");
        if (r.logprobs()) {
            ch.putObject("logprobs").set("content", logprobs);
        } else {
            ch.putNull("logprobs");
        }
        ch.put("finish_reason", done.finishReason());
        n.set("usage", usage(done));
        return send(ex, 200, n);
    }

    /** Server-Sent Events: a chunk per piece of text as it is decoded, the finish reason, usage on request, [DONE]. */
    private int stream(HttpExchange ex, ModelWorker.ChatJob job, ChatRequest r, String id, long created) {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        OutputStream out = ex.getResponseBody();
        try {
            ex.sendResponseHeaders(200, 0); // chunked
            ObjectNode first = chunk(id, created);
            first.withArray("choices").addObject().put("index", 0).putNull("logprobs").putNull("finish_reason")
                    .putObject("delta").put("role", "assistant").put("content", "");
            event(out, first);
            while (true) {
                ModelWorker.Event e;
                try {
                    e = next(job);
                } catch (HttpError timeout) {
                    event(out, errorJson(timeout.status, timeout.getMessage(), null));
                    break;
                }
                if (e instanceof ModelWorker.Delta d) {
                    ObjectNode c = chunk(id, created);
                    ObjectNode ch = c.withArray("choices").addObject().put("index", 0);
                    ch.putObject("delta").put("content", d.text());
                    if (r.logprobs()) {
                        ArrayNode lp = ch.putObject("logprobs").putArray("content");
                        d.logprobs().forEach(l -> lp.add(logprobJson(l)));
                    } else {
                        ch.putNull("logprobs");
                    }
                    ch.putNull("finish_reason");
                    event(out, c);
                } else if (e instanceof ModelWorker.Done d) {
                    ObjectNode c = chunk(id, created);
                    c.withArray("choices").addObject().put("index", 0).put("finish_reason", d.finishReason())
                            .putNull("logprobs").putObject("delta");
                    if (r.includeUsage()) {
                        c.putNull("usage");
                    }
                    event(out, c);
                    if (r.includeUsage()) {
                        ObjectNode u = chunk(id, created);
                        u.putArray("choices");
                        u.set("usage", usage(d));
                        event(out, u);
                    }
                    break;
                } else {
                    RuntimeException err = ((ModelWorker.Failed) e).error();
                    boolean bad = err instanceof BadInputException;
                    event(out, errorJson(bad ? 400 : 500, bad ? err.getMessage() : "internal error: "
                            + err.getClass().getSimpleName(), null));
                    break;
                }
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            job.cancelled = true; // the client went away: the sequence leaves the batch at its next token
            LOG.debug("stream client went away: " + e.getMessage());
        }
        return 200;
    }

    private ModelWorker.Event next(ModelWorker.ChatJob job) {
        try {
            ModelWorker.Event e = job.events.poll(5, TimeUnit.MINUTES);
            if (e == null) {
                job.cancelled = true;
                throw new HttpError(504, "the model did not answer in time");
            }
            return e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            job.cancelled = true;
            throw new HttpError(503, "interrupted");
        }
    }

    private ObjectNode head(String id, String object, long created) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", id);
        n.put("object", object);
        n.put("created", created);
        n.put("model", modelName);
        n.putNull("system_fingerprint");
        return n;
    }

    private ObjectNode chunk(String id, long created) {
        return head(id, "chat.completion.chunk", created);
    }

    private static ObjectNode usage(ModelWorker.Done d) {
        return JSON.createObjectNode().put("prompt_tokens", d.promptTokens()).put("completion_tokens",
                d.completionTokens()).put("total_tokens", d.promptTokens() + d.completionTokens());
    }

    private static ObjectNode logprobJson(ModelWorker.TokenLogprob l) {
        ObjectNode n = JSON.createObjectNode().put("token", l.token()).put("logprob", l.logprob());
        ArrayNode bytes = n.putArray("bytes");
        for (byte b : l.token().getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        ArrayNode top = n.putArray("top_logprobs");
        l.top().forEach(t -> top.add(logprobJson(t).without("top_logprobs")));
        return n;
    }

    private static void event(OutputStream out, JsonNode data) throws IOException {
        out.write(("data: " + JSON.writeValueAsString(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Refuses prompts over the limits: the prompt alone, and with {@code maxNew} tokens to generate. */
    private int checkPromptLength(int total, int images, int maxNew) {
        int positions = vlm.languageConfig().maxPositionEmbeddings();
        int limit = Math.min(options.maxPromptTokens, positions);
        if (total > limit) {
            throw new HttpError(400, "prompt of " + total + " tokens (" + images + " image(s) of "
                    + vlm.tower().numTokens() + ") is over the limit of " + limit, "messages");
        }
        if (total + maxNew > positions) {
            throw new HttpError(400, "prompt of " + total + " tokens + max_tokens " + maxNew + " is over the model's"
                    + " context of " + positions + " positions", "max_tokens");
        }
        return total;
    }

    private BufferedImage image(String ref, String field) {
        try {
            return images.resolve(ref, field);
        } catch (BadInputException e) {
            throw new HttpError(400, e.getMessage(), field);
        }
    }

    private void submit(ModelWorker.Job job) {
        if (!worker.running()) {
            throw new HttpError(503, "the server is shutting down");
        }
        if (!worker.offer(job)) {
            throw new HttpError(503, "the model queue is full (" + options.queueCapacity + "); retry shortly");
        }
    }

    private static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(5, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(c);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new HttpError(504, "the model did not answer in time");
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

    /** OpenAI's error shape: message, type, param, code. */
    private static ObjectNode errorJson(int status, String message, String param) {
        ObjectNode n = JSON.createObjectNode();
        ObjectNode e = n.putObject("error").put("message", message).put("type", switch (status) {
            case 400, 413 -> "invalid_request_error";
            case 404, 405 -> "not_found_error";
            case 503, 504 -> "service_unavailable";
            default -> "server_error";
        });
        if (param == null) {
            e.putNull("param");
        } else {
            e.put("param", param);
        }
        e.put("code", status);
        return n;
    }

    private void error(HttpExchange ex, int status, String message, String param) {
        if (status == 503) {
            ex.getResponseHeaders().set("Retry-After", "1");
        }
        send(ex, status, errorJson(status, message, param));
    }

    /** Stops accepting (503 from here on), lets queued and decoding work finish and be answered, then stops. */
    @Override
    public void close() {
        worker.stop(TimeUnit.SECONDS.toMillis(60));
        http.stop(1);
        httpPool.shutdown();
        LOG.info("Glimpse server stopped");
    }
}
