package dev.glimpse.server;

import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.TextStream;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.Decoder;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.Logits;
import dev.glimpse.language.Tokenizer;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that runs the model. Completions are decoded with continuous batching: a request that arrives
 * while others decode joins them at the next step (its prompt prefilled with the other newcomers), each leaves when
 * it is done, so nobody waits for a batch to drain. The images of the requests taken together are encoded in one
 * tower call. Multiple-choice answers are scored between decode steps.
 */
final class ModelWorker {
    private static final Logger LOG = LoggerFactory.getLogger(ModelWorker.class);

    /** A token's log-probability and the most likely alternatives at its step. */
    record TokenLogprob(String token, double logprob, List<TokenLogprob> top) {}

    /** What a completion's consumer hears: pieces of text, then the end (or a failure). */
    sealed interface Event permits Delta, Done, Failed {}

    record Delta(String text, List<TokenLogprob> logprobs) implements Event {}

    record Done(String finishReason, int promptTokens, int completionTokens) implements Event {}

    record Failed(RuntimeException error) implements Event {}

    /** Work for the model. */
    abstract static class Job {
        final List<BufferedImage> images;
        final long enqueued = System.nanoTime();

        Job(List<BufferedImage> images) {
            this.images = images;
        }
    }

    /** A multiple-choice (or free) answer to a question. */
    static final class AnswerJob extends Job {
        final Question question;
        final CompletableFuture<Answer> result = new CompletableFuture<>();

        AnswerJob(Question question) {
            super(question.images());
            this.question = question;
        }
    }

    /** A completion of a chat prompt; its events arrive in {@link #events} as tokens are made. */
    static final class ChatJob extends Job {
        final MultimodalPrompt prompt; // tokenized once, by the request's thread
        final int promptTokens;
        final GenerationOptions options;
        final List<String> stops;
        final boolean logprobs;
        final int topLogprobs;
        final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        volatile boolean cancelled; // the client went away: the sequence leaves the batch at its next token
        private TextStream text;
        private final List<TokenLogprob> pending = new ArrayList<>();
        private int generated;
        private long firstTokenAt;

        ChatJob(MultimodalPrompt prompt, List<BufferedImage> images, GenerationOptions options, List<String> stops,
                boolean logprobs, int topLogprobs) {
            super(images);
            this.prompt = prompt;
            this.promptTokens = prompt.ids().length;
            this.options = options;
            this.stops = stops;
            this.logprobs = logprobs;
            this.topLogprobs = topLogprobs;
        }
    }

    private final VisionLanguageModel vlm;
    private final Tokenizer tokenizer;
    private final BlockingQueue<Job> queue;
    private final int maxBatch;
    private final ServerMetrics metrics;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile int active;

    ModelWorker(VisionLanguageModel vlm, int queueCapacity, int maxBatch, ServerMetrics metrics) {
        this.vlm = vlm;
        this.tokenizer = vlm.tokenizer();
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.maxBatch = maxBatch;
        this.metrics = metrics;
        this.thread = new Thread(this::run, "glimpse-model-worker");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    int queued() {
        return queue.size();
    }

    int active() {
        return active;
    }

    boolean running() {
        return running;
    }

    /** Queues a job; false when the queue is full or the worker is stopping. */
    boolean offer(Job job) {
        return running && queue.offer(job);
    }

    /** Stops taking work; what is queued or decoding finishes first (up to {@code millis}). */
    void stop(long millis) {
        running = false;
        try {
            thread.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        Decoder decoder = vlm.llm().decoder();
        Map<Integer, ChatJob> decoding = new HashMap<>();
        while (true) {
            List<Job> fresh = new ArrayList<>();
            if (decoding.isEmpty()) {
                if (!running && queue.isEmpty()) {
                    break;
                }
                try {
                    Job first = queue.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    fresh.add(first);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            queue.drainTo(fresh, Math.max(0, maxBatch - decoding.size() - fresh.size()));
            try {
                if (!fresh.isEmpty()) {
                    take(fresh, decoder, decoding);
                }
                if (decoder.active() > 0) {
                    metrics.decodeBatch(decoder.active());
                    decoder.step();
                }
            } catch (RuntimeException e) {
                LOG.warn("the decoder failed; its " + decoding.size() + " sequence(s) are answered with the error", e);
                decoding.values().forEach(j -> j.events.add(new Failed(e)));
                decoding.clear();
                decoder.close();
                decoder = vlm.llm().decoder();
            }
            finish(decoder, decoding);
            active = decoder.active();
        }
        decoder.close();
    }

    private Decoder.TokenSink sink(ChatJob c) {
        c.text = new TextStream(tokenizer, c.stops, piece -> emit(c, piece));
        return (tok, logits, off) -> token(c, tok, logits, off);
    }

    /** Starts newly taken jobs: one tower call for all their images, answers scored, completions joined. */
    private void take(List<Job> fresh, Decoder decoder, Map<Integer, ChatJob> decoding) {
        long now = System.nanoTime();
        List<BufferedImage> all = new ArrayList<>();
        for (Job j : fresh) {
            metrics.queueWait((now - j.enqueued) / 1e9);
            all.addAll(j.images);
        }
        List<float[]> features;
        try {
            features = vlm.features(all);
        } catch (RuntimeException e) {
            fresh.forEach(j -> fail(j, e));
            return;
        }
        List<ChatJob> chats = new ArrayList<>();
        List<List<float[]>> chatFeatures = new ArrayList<>();
        List<AnswerJob> answers = new ArrayList<>();
        List<List<float[]>> answerFeatures = new ArrayList<>();
        int k = 0;
        for (Job j : fresh) {
            List<float[]> mine = features.subList(k, k + j.images.size());
            k += j.images.size();
            if (j instanceof AnswerJob a) {
                answers.add(a);
                answerFeatures.add(mine);
            } else if (j instanceof ChatJob c && !c.cancelled) {
                chats.add(c);
                chatFeatures.add(mine);
            }
        }
        answer(answers, answerFeatures);
        if (chats.isEmpty()) {
            return;
        }
        try {
            List<Decoder.Sequence> seqs = new ArrayList<>();
            for (int i = 0; i < chats.size(); i++) {
                ChatJob c = chats.get(i);
                seqs.add(vlm.sequence(c.prompt, chatFeatures.get(i), c.options).sink(sink(c)));
            }
            int[] ids = decoder.add(seqs);
            for (int i = 0; i < ids.length; i++) {
                decoding.put(ids[i], chats.get(i));
            }
        } catch (RuntimeException e) {
            chats.forEach(c -> fail(c, e));
        }
    }

    /** Multiple-choice questions taken together are scored in one batch; if that fails, each alone (one bad
     *  request must not fail the others). */
    private void answer(List<AnswerJob> jobs, List<List<float[]>> features) {
        if (jobs.isEmpty()) {
            return;
        }
        try {
            metrics.scoreBatch(jobs.size());
            List<Answer> out = vlm.answer(jobs.stream().map(a -> a.question).toList(), features);
            for (int i = 0; i < jobs.size(); i++) {
                jobs.get(i).result.complete(out.get(i));
            }
            return;
        } catch (RuntimeException e) {
            if (jobs.size() == 1) {
                jobs.get(0).result.completeExceptionally(e);
                return;
            }
        }
        for (int i = 0; i < jobs.size(); i++) {
            answer(List.of(jobs.get(i)), List.of(features.get(i)));
        }
    }

    private boolean token(ChatJob c, int tok, float[] logits, int offset) {
        if (c.generated++ == 0) {
            c.firstTokenAt = System.nanoTime();
            metrics.firstToken((c.firstTokenAt - c.enqueued) / 1e9);
        }
        if (c.logprobs) {
            c.pending.add(logprob(tok, logits, offset, c.topLogprobs));
        }
        boolean more = c.text.accept(tok);
        return more && !c.cancelled;
    }

    /** log-softmax of the step's logits at {@code tok}, with the {@code top} most likely tokens. */
    private TokenLogprob logprob(int tok, float[] logits, int offset, int top) {
        int v = vlm.languageConfig().vocabSize();
        double logZ = Logits.logNormalizer(logits, offset, v);
        List<TokenLogprob> alternatives = new ArrayList<>();
        boolean[] taken = new boolean[v];
        for (int n = 0; n < top; n++) {
            int best = -1;
            for (int i = 0; i < v; i++) {
                if (!taken[i] && (best < 0 || logits[offset + i] > logits[offset + best])) {
                    best = i;
                }
            }
            taken[best] = true;
            alternatives.add(new TokenLogprob(piece(best), logits[offset + best] - logZ, List.of()));
        }
        return new TokenLogprob(piece(tok), logits[offset + tok] - logZ, alternatives);
    }

    private String piece(int tok) {
        return tokenizer.decode(new int[] {tok}, false);
    }

    private void emit(ChatJob c, String piece) {
        c.events.add(new Delta(piece, List.copyOf(c.pending)));
        c.pending.clear();
    }

    /** Completes the jobs whose sequences left the decoder. */
    private void finish(Decoder decoder, Map<Integer, ChatJob> decoding) {
        for (Iterator<Map.Entry<Integer, ChatJob>> it = decoding.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Integer, ChatJob> e = it.next();
            int[] out = decoder.result(e.getKey());
            if (out == null) {
                continue;
            }
            it.remove();
            done(e.getValue(), out.length, decoder.finish(e.getKey()) == Decoder.Finish.LENGTH);
        }
    }

    private void done(ChatJob c, int tokens, boolean length) {
        c.text.finish();
        if (!c.pending.isEmpty()) {
            emit(c, ""); // tokens that add no text (e.g. the end-of-sequence token) still have log-probabilities
        }
        if (c.cancelled) {
            metrics.error("client_gone");
        }
        metrics.completion(tokens, c.firstTokenAt == 0 ? 0 : (System.nanoTime() - c.firstTokenAt) / 1e9);
        c.events.add(new Done(length ? "length" : "stop", c.promptTokens, tokens));
    }

    private static void fail(Job j, RuntimeException e) {
        if (j instanceof AnswerJob a) {
            a.result.completeExceptionally(e);
        } else if (j instanceof ChatJob c) {
            c.events.add(new Failed(e));
        }
    }
}
