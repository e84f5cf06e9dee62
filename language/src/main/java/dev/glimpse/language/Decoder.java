package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Continuous batching: sequences decode together, one forward pass per step for all of them, each with its own
 * options (length, sampling, seed, stops) and each leaving as soon as it is done; new sequences can {@link #add join}
 * between steps without waiting for the others to finish. Their prompts are prefilled together, then their KV cache
 * is left-padded to the batch's and joined to it (the padding is masked, positions are per row, so every row computes
 * what it would alone). One thread drives a decoder; close it to free its cache.
 *
 * <pre>{@code
 * try (Decoder d = llm.decoder()) {
 *     d.add(List.of(Decoder.Sequence.ids(prompt, GenerationOptions.greedy(32))));
 *     while (d.active() > 0) d.step();
 * }
 * }</pre>
 */
public final class Decoder implements SequenceDecoder {
    /** Hears each chosen token of a sequence with that step's logits ({@code vocab} values from {@code offset}). */
    @FunctionalInterface
    public interface TokenSink {
        /** Returns false to end the sequence after this token (e.g. a stop string was seen). */
        boolean accept(int tokenId, float[] logits, int offset);
    }

    /** Why a sequence ended. */
    public enum Finish {
        /** It made one of its stop tokens (kept as its last token). */
        STOP_TOKEN,
        /** It made {@code maxNewTokens} tokens. */
        LENGTH,
        /** Its sink asked it to end. */
        SINK
    }

    /**
     * One sequence to continue: a prompt of token ids, or of embeddings [1, P, H] (text with image features spliced
     * in; they must live at least until {@link #add} returns), with an optional global image feature [1, H] for the
     * attached adaption prompts (LLaMA-Adapter's multimodal variant).
     */
    public record Sequence(int[] promptIds, NDArray promptEmbeds, NDArray visual, GenerationOptions options,
                           TokenSink sink) {
        public static Sequence ids(int[] promptIds, GenerationOptions options) {
            return new Sequence(promptIds, null, null, options, null);
        }

        public static Sequence embeds(NDArray promptEmbeds, NDArray visual, GenerationOptions options) {
            return new Sequence(null, promptEmbeds, visual, options, null);
        }

        public Sequence sink(TokenSink s) {
            return new Sequence(promptIds, promptEmbeds, visual, options, s);
        }

        int length() {
            return promptIds != null ? promptIds.length : (int) promptEmbeds.getShape().get(1);
        }
    }

    /** A sequence in flight: what it has made so far and how it goes on. */
    private static final class Row {
        final Sequence seq;
        final Set<Integer> stops;
        final Random random;
        final List<Integer> out = new ArrayList<>();
        final int index;
        NDArray visual; // the decoder's own copy: the sequence's arrays need only live until add() returns
        long seen; // positions of this row in the cache (prompt + fed tokens)
        boolean done;
        Finish finish;

        Row(Sequence seq, Set<Integer> stops, int index) {
            this.seq = seq;
            this.stops = stops;
            this.random = new Random(seq.options().seed());
            this.index = index;
        }
    }

    private final CausalLM llm;
    private final NDManager manager;
    private final List<Row> rows = new ArrayList<>();
    private final List<int[]> finished = new ArrayList<>();
    private final List<Finish> finishes = new ArrayList<>();
    private KvCache cache;
    private NDArray mask; // [B, T] of the cache's positions: 1 where a row has a token, 0 in its left padding
    private int added;

    Decoder(CausalLM llm) {
        this.llm = llm;
        this.manager = llm.manager().newSubManager();
    }

    /** Sequences still decoding. */
    public int active() {
        return rows.size();
    }

    /**
     * Prefills {@code sequences} together, chooses their first tokens and joins those still going to the batch.
     * Returns their indices (0, 1, ... in the order sequences were ever added) for {@link #result}.
     */
    public int[] add(List<Sequence> sequences) {
        int n = sequences.size();
        int[] ids = new int[n];
        if (n == 0) {
            return ids;
        }
        int len = 0;
        int maxPos = llm.config().maxPositionEmbeddings();
        for (Sequence s : sequences) {
            int p = s.length();
            if (p == 0) {
                throw new BadInputException("an empty prompt cannot be continued: give at least one token (e.g. BOS)");
            }
            if (p + s.options().maxNewTokens() > maxPos) {
                throw new BadInputException("prompt of " + p + " tokens + " + s.options().maxNewTokens()
                        + " new tokens exceeds max_position_embeddings (" + maxPos + ")");
            }
            len = Math.max(len, p);
        }
        List<Row> fresh = new ArrayList<>();
        for (Sequence s : sequences) {
            Set<Integer> stops = new LinkedHashSet<>(s.options().stopTokens());
            if (s.options().useModelStopTokens()) {
                stops.addAll(llm.generationConfig().eosTokenIds());
                stops.addAll(llm.config().eosTokenIds());
            }
            Row r = new Row(s, stops, added++);
            r.seen = s.length();
            if (s.visual() != null) {
                r.visual = s.visual().duplicate();
                r.visual.attach(manager);
            }
            fresh.add(r);
            finished.add(null);
            finishes.add(null);
        }
        for (int i = 0; i < n; i++) {
            ids[i] = fresh.get(i).index;
        }
        long[] bits = new long[n * len];
        long[] pos = new long[n * len];
        boolean embeds = sequences.stream().anyMatch(s -> s.promptEmbeds() != null);
        long[] tokens = embeds ? null : new long[n * len];
        for (int r = 0; r < n; r++) {
            Sequence s = sequences.get(r);
            int p = s.length();
            int pad = len - p;
            for (int i = 0; i < p; i++) {
                bits[r * len + pad + i] = 1;
                pos[r * len + pad + i] = i;
                if (tokens != null) {
                    tokens[r * len + pad + i] = s.promptIds()[i];
                }
            }
        }
        KvCache c = llm.newCache(manager);
        NDArray m = manager.create(bits, new Shape(n, len));
        float[] logits;
        try (NDManager step = manager.newSubManager()) {
            // every array of the forward lives in the step's manager (the decoder's own lives as long as the server)
            CausalLM.Input in;
            if (tokens != null) {
                in = CausalLM.Input.ids(step.create(tokens, new Shape(n, len)));
            } else {
                NDList parts = new NDList();
                for (Sequence s : sequences) {
                    NDArray e = s.promptEmbeds() != null ? s.promptEmbeds().duplicate()
                            : llm.embed(step.create(CausalLM.toLongs(s.promptIds()), new Shape(1, s.length())));
                    e.attach(step);
                    e = e.toType(llm.dataType(), false);
                    int pad = len - s.length();
                    if (pad > 0) {
                        e = step.zeros(new Shape(1, pad, e.getShape().get(2)), e.getDataType()).concat(e, 1);
                    }
                    parts.add(e);
                }
                in = CausalLM.Input.embeds(concat(parts, 0));
            }
            CausalLM.Output o = llm.forward(in.attentionMask(step.create(bits, new Shape(n, len)))
                    .positionIds(step.create(pos, new Shape(n, len)))
                    .cache(c).adapter(adapter(step, fresh)).lastTokenLogitsOnly());
            logits = o.logits().toType(DataType.FLOAT32, false).toFloatArray();
        } catch (RuntimeException e) {
            c.close();
            m.close();
            for (Row r : fresh) {
                finished.set(r.index, new int[0]);
                if (r.visual != null) {
                    r.visual.close();
                }
            }
            throw e;
        }
        choose(fresh, logits);
        // join the cache: both sides left-padded to the longer one, then stacked along the batch
        if (cache == null || rows.isEmpty()) {
            if (cache != null) {
                cache.close();
                mask.close();
            }
            cache = c;
            mask = m;
        } else {
            long t = cache.length();
            if (len < t) {
                c.padLeft(t - len);
                m = padLeft(m, t - len);
            } else if (len > t) {
                cache.padLeft(len - t);
                mask = padLeft(mask, len - t);
            }
            cache.concat(c);
            c.close();
            NDArray joined = mask.concat(m, 0);
            joined.attach(manager);
            mask.close();
            m.close();
            mask = joined;
        }
        rows.addAll(fresh);
        retire();
        return ids;
    }

    /** One decode step for every active sequence: feeds each its last token and chooses its next. */
    public void step() {
        if (rows.isEmpty()) {
            return;
        }
        int b = rows.size();
        long[] last = new long[b];
        long[] pos = new long[b];
        for (int r = 0; r < b; r++) {
            Row row = rows.get(r);
            last[r] = row.out.get(row.out.size() - 1);
            pos[r] = row.seen++;
        }
        float[] logits;
        try (NDManager step = manager.newSubManager()) {
            NDArray grown = mask.concat(step.ones(new Shape(b, 1), DataType.INT64), 1);
            grown.attach(manager);
            mask.close();
            mask = grown;
            NDArray stepMask = mask.duplicate();
            stepMask.attach(step);
            CausalLM.Output o = llm.forward(CausalLM.Input.ids(step.create(last, new Shape(b, 1))).attentionMask(stepMask)
                    .positionIds(step.create(pos, new Shape(b, 1))).cache(cache).adapter(adapter(step, rows))
                    .lastTokenLogitsOnly());
            logits = o.logits().toType(DataType.FLOAT32, false).toFloatArray();
        }
        choose(rows, logits);
        retire();
    }

    /** Positions in the shared cache, padding included (for tests: never more than {@link #longestRow()}). */
    long width() {
        return cache == null ? 0 : cache.length();
    }

    /** Arrays the decoder holds now, its cache's included (for tests: bounded however long it serves). */
    int liveArrays() {
        return manager.getManagedArrays().size();
    }

    long longestRow() {
        return rows.stream().mapToLong(r -> r.seen).max().orElse(0);
    }

    /** Why sequence {@code index} ended, once it is done, else null. */
    public Finish finish(int index) {
        return finishes.get(index);
    }

    /** The new tokens of sequence {@code index} once it is done (stop token kept), else null. */
    public int[] result(int index) {
        return finished.get(index);
    }

    private void choose(List<Row> batch, float[] logits) {
        int v = llm.config().vocabSize();
        for (int r = 0; r < batch.size(); r++) {
            Row row = batch.get(r);
            GenerationOptions o = row.seq.options();
            if (o.maxNewTokens() == 0) {
                row.done = true;
                row.finish = Finish.LENGTH;
                continue;
            }
            int tok = o.doSample() ? Sampler.sample(logits, r * v, v, o, row.random) : Sampler.argmax(logits, r * v, v);
            row.out.add(tok);
            boolean more = row.seq.sink() == null || row.seq.sink().accept(tok, logits, r * v);
            row.finish = row.stops.contains(tok) ? Finish.STOP_TOKEN : !more ? Finish.SINK
                    : row.out.size() >= o.maxNewTokens() ? Finish.LENGTH : null;
            row.done = row.finish != null;
        }
    }

    /** Drops finished rows from the batch and the cache; trims padding columns no row needs any more. */
    private void retire() {
        List<Row> keep = new ArrayList<>();
        long[] keepIdx = new long[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            if (r.done) {
                if (r.visual != null) {
                    r.visual.close();
                }
                finished.set(r.index, r.out.stream().mapToInt(Integer::intValue).toArray());
                finishes.set(r.index, r.finish);
            } else {
                keepIdx[keep.size()] = i;
                keep.add(r);
            }
        }
        if (keep.size() == rows.size()) {
            return;
        }
        rows.clear();
        rows.addAll(keep);
        if (keep.isEmpty()) {
            cache.close();
            mask.close();
            cache = null;
            mask = null;
            return;
        }
        try (NDManager s = manager.newSubManager()) {
            NDArray idx = s.create(java.util.Arrays.copyOf(keepIdx, keep.size()));
            cache.select(idx);
            long longest = keep.stream().mapToLong(r -> r.seen).max().orElse(0);
            long trim = cache.length() - longest;
            NDArray m = mask.get(idx);
            m.attach(s);
            if (trim > 0) {
                cache.trimLeft(trim);
                m = m.get(new NDIndex(":, {}:", trim));
            }
            m.attach(manager);
            mask.close();
            mask = m;
        }
    }

    /** The attached adaption prompts with each row's visual feature (zeros for rows without one), or null. */
    private LanguageAdapter.Weights adapter(NDManager m, List<Row> batch) {
        LanguageAdapter.Weights a = llm.attachedWeights();
        if (a == null || batch.stream().allMatch(r -> r.visual == null)) {
            return null;
        }
        NDList v = new NDList();
        for (Row r : batch) {
            NDArray x = r.visual != null ? r.visual.duplicate()
                    : m.zeros(new Shape(1, llm.config().hiddenSize()), llm.dataType());
            x.attach(m);
            v.add(x.toType(llm.dataType(), false).reshape(1, llm.config().hiddenSize()));
        }
        return a.withVisual(concat(v, 0));
    }

    private NDArray padLeft(NDArray m, long n) {
        try (NDManager t = manager.newSubManager()) {
            NDArray p = t.zeros(new Shape(m.getShape().get(0), n), DataType.INT64).concat(m, 1);
            p.attach(manager);
            m.close();
            return p;
        }
    }

    @Override
    public void close() {
        manager.close();
    }

    private static NDArray concat(NDList l, int axis) {
        return l.size() == 1 ? l.get(0) : NDArrays.concat(l, axis);
    }
}
