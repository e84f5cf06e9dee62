package dev.glimpse.language;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.OnnxThreads;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Continuous batching on the ONNX engine: sequences join between steps and leave when done, and every step
 * decodes one token for all of them in one run of the graph. The batch's KV cache is ONNX Runtime's present tensors,
 * fed back as they are; only when rows join or leave is it re-packed (each row's positions copied, left-padded to
 * the longest row). Same contract as {@link Decoder}, the DJL engine's:
 * <pre>{@code
 * try (OnnxDecoder d = lm.decoder()) {
 *     int id = d.add(List.of(new OnnxDecoder.Sequence(ids, null, GenerationOptions.greedy(32), null)))[0];
 *     while (d.active() > 0) d.step();
 *     int[] tokens = d.result(id);
 * }
 * }</pre>
 */
public final class OnnxDecoder implements AutoCloseable {
    /**
     * One sequence to continue: prompt ids whose positions below 0 take their embedding from {@code embeds}
     * ([ids.length, H] row-major, or null), its options, and a sink that hears each token (or null).
     */
    public record Sequence(long[] ids, float[] embeds, GenerationOptions options, Decoder.TokenSink sink) {
        public Sequence sink(Decoder.TokenSink s) {
            return new Sequence(ids, embeds, options, s);
        }
    }

    private static final class Row {
        final Sequence seq;
        final Set<Integer> stops;
        final Random random;
        final List<Integer> out = new ArrayList<>();
        final int index;
        int seen; // positions of this row in the cache
        Decoder.Finish finish;

        Row(Sequence seq, Set<Integer> stops, int index) {
            this.seq = seq;
            this.stops = stops;
            this.random = new Random(seq.options().seed());
            this.index = index;
            this.seen = seq.ids().length;
        }
    }

    private final OnnxCausalLM lm;
    private final List<Row> rows = new ArrayList<>();
    private final List<int[]> finished = new ArrayList<>();
    private final List<Decoder.Finish> finishes = new ArrayList<>();
    private OnnxCausalLM.Step cache; // [rows, kv, width, hd] per layer, each row's positions at the right end

    OnnxDecoder(OnnxCausalLM lm) {
        this.lm = lm;
    }

    /** Sequences still decoding. */
    public int active() {
        return rows.size();
    }

    /**
     * Prefills {@code sequences} (one run each), chooses their first tokens and joins those still going to the
     * batch. Returns their indices (0, 1, ... in the order sequences were ever added) for {@link #result}.
     */
    public int[] add(List<Sequence> sequences) {
        for (Sequence s : sequences) {
            lm.checkPrompt(s.ids(), s.embeds(), s.options().maxNewTokens());
        }
        int[] ids = new int[sequences.size()];
        List<Row> fresh = new ArrayList<>();
        for (int i = 0; i < sequences.size(); i++) {
            Sequence s = sequences.get(i);
            Set<Integer> stops = new LinkedHashSet<>(s.options().stopTokens());
            if (s.options().useModelStopTokens()) {
                stops.addAll(lm.generationConfig().eosTokenIds());
                stops.addAll(lm.config().eosTokenIds());
            }
            Row r = new Row(s, stops, finished.size());
            finished.add(null);
            finishes.add(null);
            ids[i] = r.index;
            fresh.add(r);
        }
        OnnxThreads.call(() -> {
            List<OnnxCausalLM.Step> prefills = new ArrayList<>();
            List<Row> joining = new ArrayList<>();
            try {
                for (Row r : fresh) {
                    if (r.seq.options().maxNewTokens() == 0) {
                        end(r, Decoder.Finish.LENGTH);
                        continue;
                    }
                    OnnxCausalLM.Step p = lm.forward(null, r.seq.ids(), r.seq.embeds(), 1, r.seen, 1);
                    if (choose(r, p.logits, 0)) {
                        prefills.add(p);
                        joining.add(r);
                    } else {
                        p.close();
                    }
                }
                repack(joining, prefills);
            } catch (OrtException | RuntimeException e) {
                for (Row r : fresh) {
                    if (r.finish == null) {
                        end(r, Decoder.Finish.LENGTH);
                    }
                }
                throw e instanceof RuntimeException re ? re : new GlimpseException("ONNX prefill failed: " + e, e);
            } finally {
                prefills.forEach(OnnxCausalLM.Step::close);
            }
            return null;
        });
        return ids;
    }

    /** One decode step for every active sequence: feeds each its last token and chooses its next. */
    public void step() {
        if (rows.isEmpty()) {
            return;
        }
        OnnxThreads.call(() -> {
            int b = rows.size();
            int width = cache.length;
            long[] last = new long[b];
            long[] pos = new long[b];
            long[] mask = new long[b * (width + 1)];
            for (int r = 0; r < b; r++) {
                Row row = rows.get(r);
                last[r] = row.out.get(row.out.size() - 1);
                pos[r] = row.seen;
                for (int i = width - row.seen; i <= width; i++) {
                    mask[r * (width + 1) + i] = 1;
                }
            }
            OnnxCausalLM.Step next;
            try {
                next = lm.forward(cache, last, null, mask, pos, b, 1, 1);
            } catch (OrtException e) {
                throw new GlimpseException("ONNX decode step failed: " + e.getMessage(), e);
            }
            cache.close();
            cache = next;
            int v = lm.config().vocabSize();
            boolean left = false;
            for (int r = 0; r < b; r++) {
                Row row = rows.get(r);
                row.seen++;
                left |= !choose(row, next.logits, r * v);
            }
            if (left) {
                try {
                    repack(List.of(), List.of());
                } catch (OrtException e) {
                    throw new GlimpseException("ONNX cache re-pack failed: " + e.getMessage(), e);
                }
            }
            return null;
        });
    }

    /** Why sequence {@code index} ended, once it is done, else null. */
    public Decoder.Finish finish(int index) {
        return finishes.get(index);
    }

    /** The new tokens of sequence {@code index} once it is done (stop token kept), else null. */
    public int[] result(int index) {
        return finished.get(index);
    }

    /** Positions in the batch's cache, padding included (for tests: the longest active row's). */
    int width() {
        return cache == null ? 0 : cache.length;
    }

    /** Chooses a row's next token from its logits; false when the row has ended (and is recorded as done). */
    private boolean choose(Row row, float[] logits, int offset) {
        GenerationOptions o = row.seq.options();
        int v = lm.config().vocabSize();
        int tok = o.doSample() ? Sampler.sample(logits, offset, v, o, row.random) : Sampler.argmax(logits, offset, v);
        row.out.add(tok);
        boolean more = row.seq.sink() == null || row.seq.sink().accept(tok, logits, offset);
        if (row.stops.contains(tok)) {
            end(row, Decoder.Finish.STOP_TOKEN);
        } else if (!more) {
            end(row, Decoder.Finish.SINK);
        } else if (row.out.size() >= o.maxNewTokens()) {
            end(row, Decoder.Finish.LENGTH);
        }
        return row.finish == null;
    }

    private void end(Row row, Decoder.Finish why) {
        row.finish = why;
        finished.set(row.index, row.out.stream().mapToInt(Integer::intValue).toArray());
        finishes.set(row.index, why);
    }

    /**
     * Rebuilds the batch cache from the rows still going (their positions in the current cache) and the rows
     * joining (each with its own prefill): every row's positions copied to the right end of a cache as wide as the
     * longest row.
     */
    private void repack(List<Row> joining, List<OnnxCausalLM.Step> prefills) throws OrtException {
        List<Row> kept = new ArrayList<>();
        List<Integer> keptAt = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            if (rows.get(r).finish == null) {
                kept.add(rows.get(r));
                keptAt.add(r);
            }
        }
        if (joining.isEmpty() && kept.size() == rows.size()) {
            return;
        }
        List<Row> all = new ArrayList<>(kept);
        all.addAll(joining);
        if (all.isEmpty()) {
            rows.clear();
            if (cache != null) {
                cache.close();
                cache = null;
            }
            return;
        }
        int width = all.stream().mapToInt(r -> r.seen).max().orElseThrow();
        int kv = lm.config().numKeyValueHeads();
        int hd = lm.config().headDim();
        int b = all.size();
        Map<String, OnnxTensor> packed = new HashMap<>();
        try {
            for (int layer = 0; layer < lm.config().numHiddenLayers(); layer++) {
                for (String kind : new String[] {"key", "value"}) {
                    float[] dst = new float[b * kv * width * hd];
                    if (!kept.isEmpty()) {
                        float[] src = floats(cache.present(layer, kind));
                        int srcWidth = cache.length;
                        int srcRows = rows.size();
                        for (int i = 0; i < kept.size(); i++) {
                            copyRow(src, srcRows, srcWidth, keptAt.get(i), dst, width, i, kept.get(i).seen, kv, hd);
                        }
                    }
                    for (int j = 0; j < joining.size(); j++) {
                        OnnxCausalLM.Step p = prefills.get(j);
                        copyRow(floats(p.present(layer, kind)), 1, p.length, 0, dst, width, kept.size() + j,
                                joining.get(j).seen, kv, hd);
                    }
                    String name = "present." + layer + "." + kind;
                    packed.put(name, OnnxTensor.createTensor(lm.env(), FloatBuffer.wrap(dst),
                            new long[] {b, kv, width, hd}));
                }
            }
        } catch (OrtException | RuntimeException e) {
            packed.values().forEach(OnnxTensor::close);
            throw e;
        }
        if (cache != null) {
            cache.close();
        }
        cache = new OnnxCausalLM.Step(packed, width);
        rows.clear();
        rows.addAll(all);
    }

    private static float[] floats(OnnxTensor t) {
        FloatBuffer fb = t.getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    /** The last {@code seen} positions of row {@code from} of [rows, kv, srcWidth, hd] to the right end of a row of dst. */
    private static void copyRow(float[] src, int srcRows, int srcWidth, int from, float[] dst, int width, int to,
                                int seen, int kv, int hd) {
        for (int h = 0; h < kv; h++) {
            int s = ((from * kv + h) * srcWidth + srcWidth - seen) * hd;
            int d = ((to * kv + h) * width + width - seen) * hd;
            System.arraycopy(src, s, dst, d, seen * hd);
        }
    }

    @Override
    public void close() {
        if (cache != null) {
            OnnxThreads.call(() -> {
                cache.close();
                return null;
            });
            cache = null;
        }
        rows.clear();
    }
}
