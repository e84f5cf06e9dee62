package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Continuous batching on DJL ({@link Decoder}): prompts are prefilled together, then their KV cache is left-padded
 * to the batch's and joined to it (the padding is masked, positions are per row, so every row computes what it would
 * alone). Rows that end leave the cache at once, and padding no row needs is trimmed.
 */
final class TorchDecoder extends BatchedDecoder {
    /** A row with its global image feature for adaption prompts: the decoder's own copy, closed when it ends. */
    private static final class TorchRow extends Row {
        NDArray visual;

        TorchRow(Sequence seq, Set<Integer> stops, int index) {
            super(seq, stops, index);
        }
    }

    private final CausalLM llm;
    private final NDManager manager;
    private final List<TorchRow> rows = new ArrayList<>();
    private KvCache cache;
    private NDArray mask; // [B, T] of the cache's positions: 1 where a row has a token, 0 in its left padding

    TorchDecoder(CausalLM llm) {
        super(llm);
        this.llm = llm;
        this.manager = llm.manager().newSubManager();
    }

    @Override
    Row newRow(Sequence s, Set<Integer> stops, int index) {
        return new TorchRow(s, stops, index);
    }

    @Override
    public int active() {
        return rows.size();
    }

    @Override
    public int[] add(List<Sequence> sequences) {
        List<TorchRow> fresh = new ArrayList<>();
        register(sequences).forEach(r -> fresh.add((TorchRow) r));
        if (fresh.isEmpty()) {
            return new int[0];
        }
        int len = fresh.stream().mapToInt(r -> r.seen).max().orElseThrow();
        KvCache c = llm.newCache(manager);
        NDArray m = manager.create(leftPaddedMask(fresh, len), new Shape(fresh.size(), len));
        float[] logits;
        try {
            logits = prefill(fresh, len, c);
        } catch (RuntimeException e) {
            c.close();
            m.close();
            fresh.forEach(r -> {
                end(r, Finish.LENGTH);
                closeVisual(r);
            });
            throw e;
        }
        for (int r = 0; r < fresh.size(); r++) {
            choose(fresh.get(r), logits, r * llm.config().vocabSize());
        }
        join(c, m, len);
        rows.addAll(fresh);
        retire();
        return indices(new ArrayList<>(fresh));
    }

    /** 1 where a row of {@code len} positions (its prompt at the right) has a token. */
    private static long[] leftPaddedMask(List<TorchRow> fresh, int len) {
        long[] bits = new long[fresh.size() * len];
        for (int r = 0; r < fresh.size(); r++) {
            for (int i = len - fresh.get(r).seen; i < len; i++) {
                bits[r * len + i] = 1;
            }
        }
        return bits;
    }

    /** Runs the new rows' prompts together into {@code c}; the last position's logits of each row. */
    private float[] prefill(List<TorchRow> fresh, int len, KvCache c) {
        int n = fresh.size();
        long[] pos = new long[n * len];
        for (int r = 0; r < n; r++) {
            int pad = len - fresh.get(r).seen;
            for (int i = 0; i < fresh.get(r).seen; i++) {
                pos[r * len + pad + i] = i;
            }
        }
        // every array of the forward lives in the step's manager (the decoder's own lives as long as the server)
        try (NDManager step = manager.newSubManager()) {
            NDList parts = new NDList();
            for (TorchRow r : fresh) {
                CausalLM.Spliced s = llm.splice(step, r.seq.prompt());
                if (s.visual() != null) {
                    r.visual = s.visual().duplicate();
                    r.visual.attach(manager);
                }
                NDArray e = s.embeds();
                int pad = len - r.seen;
                parts.add(pad == 0 ? e : step.zeros(new Shape(1, pad, e.getShape().get(2)), e.getDataType())
                        .concat(e, 1));
            }
            CausalLM.Output o = llm.forward(CausalLM.Input.embeds(concat(parts, 0))
                    .attentionMask(step.create(leftPaddedMask(fresh, len), new Shape(n, len)))
                    .positionIds(step.create(pos, new Shape(n, len)))
                    .cache(c).adapter(adapter(step, fresh)).lastTokenLogitsOnly());
            return o.logits().toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    /** Joins a prefilled cache to the batch's: both sides left-padded to the longer one, then stacked. */
    private void join(KvCache c, NDArray m, int len) {
        if (cache == null || rows.isEmpty()) {
            if (cache != null) {
                cache.close();
                mask.close();
            }
            cache = c;
            mask = m;
            return;
        }
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

    @Override
    public void step() {
        if (rows.isEmpty()) {
            return;
        }
        int b = rows.size();
        long[] last = new long[b];
        long[] pos = new long[b];
        for (int r = 0; r < b; r++) {
            last[r] = rows.get(r).lastToken();
            pos[r] = rows.get(r).seen++;
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
        for (int r = 0; r < b; r++) {
            choose(rows.get(r), logits, r * llm.config().vocabSize());
        }
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

    /** Drops finished rows from the batch and the cache; trims padding columns no row needs any more. */
    private void retire() {
        List<TorchRow> keep = new ArrayList<>();
        long[] keepIdx = new long[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            TorchRow r = rows.get(i);
            if (r.done()) {
                closeVisual(r);
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

    private static void closeVisual(TorchRow r) {
        if (r.visual != null) {
            r.visual.close();
            r.visual = null;
        }
    }

    /** The attached adaption prompts with each row's visual feature (zeros for rows without one), or null. */
    private LanguageAdapter.Weights adapter(NDManager m, List<TorchRow> batch) {
        LanguageAdapter.Weights a = llm.attachedWeights();
        if (a == null || batch.stream().allMatch(r -> r.visual == null)) {
            return null;
        }
        NDList v = new NDList();
        for (TorchRow r : batch) {
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
