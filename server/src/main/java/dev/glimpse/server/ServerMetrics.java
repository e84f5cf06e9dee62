package dev.glimpse.server;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.IntSupplier;

/**
 * The service's metrics through the Prometheus Java client, in a registry of this server's own (two servers in one
 * JVM do not mix): requests and latency by endpoint, queue wait, time to first token, generation speed, the LLM's
 * batch size per decode step, errors by kind, queue depth, and the JVM's own metrics.
 */
final class ServerMetrics {
    private static final double[] SECONDS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final Counter requests;
    private final Histogram latency;
    private final Histogram queueWait;
    private final Histogram firstToken;
    private final Histogram tokensPerSecond;
    private final Counter tokens;
    private final Histogram batchSize;
    private final Counter errors;

    ServerMetrics(IntSupplier queueDepth, IntSupplier activeSequences) {
        requests = Counter.builder().name("glimpse_requests_total").help("HTTP requests by endpoint and status.")
                .labelNames("endpoint", "code").register(registry);
        latency = Histogram.builder().name("glimpse_request_duration_seconds").help("Request latency by endpoint.")
                .labelNames("endpoint").classicOnly().classicUpperBounds(SECONDS).register(registry);
        queueWait = Histogram.builder().name("glimpse_queue_wait_seconds")
                .help("Time from a request's arrival in the queue to the model taking it.").classicOnly()
                .classicUpperBounds(SECONDS).register(registry);
        firstToken = Histogram.builder().name("glimpse_time_to_first_token_seconds")
                .help("Time from arrival in the queue to the first generated token.").classicOnly()
                .classicUpperBounds(SECONDS).register(registry);
        tokensPerSecond = Histogram.builder().name("glimpse_generation_tokens_per_second")
                .help("Generated tokens per second of each completion, after its first token.").classicOnly()
                .classicUpperBounds(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000).register(registry);
        tokens = Counter.builder().name("glimpse_generated_tokens_total").help("Tokens generated.").register(registry);
        batchSize = Histogram.builder().name("glimpse_batch_size")
                .help("Sequences sharing a forward pass of the LLM: decode steps (continuous batching) and"
                        + " multiple-choice scoring.").labelNames("kind").classicOnly()
                .classicUpperBounds(1, 2, 4, 8, 16, 32, 64, 128).register(registry);
        errors = Counter.builder().name("glimpse_errors_total")
                .help("Failed requests by kind: bad_request, too_large, not_found, unavailable, timeout, client_gone,"
                        + " internal.").labelNames("kind").register(registry);
        GaugeWithCallback.builder().name("glimpse_queue_depth").help("Requests waiting for the model.")
                .callback(cb -> cb.call(queueDepth.getAsInt())).register(registry);
        GaugeWithCallback.builder().name("glimpse_active_sequences").help("Sequences the LLM is decoding now.")
                .callback(cb -> cb.call(activeSequences.getAsInt())).register(registry);
        JvmMetrics.builder().register(registry);
    }

    void request(String endpoint, int status, double seconds) {
        requests.labelValues(endpoint, String.valueOf(status)).inc();
        latency.labelValues(endpoint).observe(seconds);
        if (status >= 400) {
            error(switch (status) {
                case 404, 405 -> "not_found";
                case 413 -> "too_large";
                case 503 -> "unavailable";
                case 504 -> "timeout";
                default -> status >= 500 ? "internal" : "bad_request";
            });
        }
    }

    void error(String kind) {
        errors.labelValues(kind).inc();
    }

    void queueWait(double seconds) {
        queueWait.observe(seconds);
    }

    void firstToken(double seconds) {
        firstToken.observe(seconds);
    }

    void completion(int generated, double secondsAfterFirst) {
        tokens.inc(generated);
        if (generated > 1 && secondsAfterFirst > 0) {
            tokensPerSecond.observe((generated - 1) / secondsAfterFirst);
        }
    }

    void decodeBatch(int size) {
        batchSize.labelValues("decode").observe(size);
    }

    void scoreBatch(int size) {
        batchSize.labelValues("score").observe(size);
    }

    String contentType() {
        return writer.getContentType();
    }

    byte[] render() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
