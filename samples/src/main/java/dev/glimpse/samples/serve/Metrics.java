package dev.glimpse.samples.serve;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/** Request counters, a latency histogram and the queue depth, in Prometheus' text format. */
final class Metrics {
    private static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final LongAdder errors = new LongAdder();
    private final AtomicLong[] bucketCounts = new AtomicLong[BUCKETS.length];
    private final LongAdder count = new LongAdder();
    private final java.util.concurrent.atomic.DoubleAdder sum = new java.util.concurrent.atomic.DoubleAdder();
    private final IntSupplier queueDepth;

    Metrics(IntSupplier queueDepth) {
        this.queueDepth = queueDepth;
        for (int i = 0; i < BUCKETS.length; i++) {
            bucketCounts[i] = new AtomicLong();
        }
    }

    void record(String endpoint, int status, double seconds) {
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder()).increment();
        if (status >= 400) {
            errors.increment();
        }
        count.increment();
        sum.add(seconds);
        for (int i = 0; i < BUCKETS.length; i++) {
            if (seconds <= BUCKETS[i]) {
                bucketCounts[i].incrementAndGet();
            }
        }
    }

    String render() {
        StringBuilder sb = new StringBuilder();
        sb.append("# HELP glimpse_requests_total HTTP requests by endpoint and status.\n");
        sb.append("# TYPE glimpse_requests_total counter\n");
        requests.forEach((k, v) -> {
            String[] p = k.split("\u0000");
            sb.append("glimpse_requests_total{endpoint=\"").append(p[0]).append("\",code=\"").append(p[1])
                    .append("\"} ").append(v.sum()).append('\n');
        });
        sb.append("# HELP glimpse_errors_total Requests answered with a 4xx or 5xx status.\n");
        sb.append("# TYPE glimpse_errors_total counter\nglimpse_errors_total ").append(errors.sum()).append('\n');
        sb.append("# HELP glimpse_request_latency_seconds Request latency.\n");
        sb.append("# TYPE glimpse_request_latency_seconds histogram\n");
        for (int i = 0; i < BUCKETS.length; i++) {
            sb.append(String.format(Locale.ROOT, "glimpse_request_latency_seconds_bucket{le=\"%s\"} %d%n",
                    BUCKETS[i], bucketCounts[i].get()));
        }
        sb.append("glimpse_request_latency_seconds_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
        sb.append(String.format(Locale.ROOT, "glimpse_request_latency_seconds_sum %.6f%n", sum.sum()));
        sb.append("glimpse_request_latency_seconds_count ").append(count.sum()).append('\n');
        sb.append("# HELP glimpse_queue_depth Requests waiting for the model.\n");
        sb.append("# TYPE glimpse_queue_depth gauge\nglimpse_queue_depth ").append(queueDepth.getAsInt()).append('\n');
        return sb.toString();
    }
}
