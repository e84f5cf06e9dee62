package dev.glimpse.language;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.OnnxThreads;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Continuous batching on the ONNX engine ({@link Decoder}): every step decodes one token for all sequences in one
 * run of the graph. The batch's KV cache is ONNX Runtime's present tensors, fed back as they are; only when rows
 * join or leave is it re-packed (each row's positions copied, left-padded to the longest row). Where one run of
 * several rows is slower than one run per row (quantized weights with fp32 activations on the CPU:
 * {@code OnnxCausalLM.decodesRowsApart}), each sequence keeps its own cache and a step runs them one after another.
 */
final class OnnxDecoder extends BatchedDecoder {
    /** Rows decoded together, and their cache [rows, kv, width, hd] per layer (each row's positions at the right). */
    private static final class Group {
        final List<Row> rows = new ArrayList<>();
        OnnxCausalLM.Step cache;
    }

    private final OnnxCausalLM lm;
    private final boolean apart; // each row its own group: see OnnxCausalLM.decodesRowsApart
    private final List<Group> groups = new ArrayList<>();

    OnnxDecoder(OnnxCausalLM lm) {
        super(lm);
        this.lm = lm;
        this.apart = lm.decodesRowsApart();
    }

    @Override
    public int active() {
        return groups.stream().mapToInt(g -> g.rows.size()).sum();
    }

    /** Prefills the new sequences (one run each), chooses their first tokens and joins those going on. */
    @Override
    public int[] add(List<Sequence> sequences) {
        List<OnnxCausalLM.Placed> placed = new ArrayList<>();
        for (Sequence s : sequences) {
            OnnxCausalLM.Placed p = lm.place(s.prompt());
            lm.checkPrompt(p.ids(), p.embeds(), s.options().maxNewTokens());
            placed.add(p);
        }
        List<Row> fresh = register(sequences);
        OnnxThreads.call(() -> {
            List<OnnxCausalLM.Step> prefills = new ArrayList<>();
            List<Row> joining = new ArrayList<>();
            try {
                for (int i = 0; i < fresh.size(); i++) {
                    Row r = fresh.get(i);
                    if (r.seq.options().maxNewTokens() == 0) {
                        end(r, Finish.LENGTH);
                        continue;
                    }
                    OnnxCausalLM.Step p = lm.forward(null, placed.get(i).ids(), placed.get(i).embeds(), 1, r.seen, 1);
                    if (choose(r, p.logits, 0)) {
                        prefills.add(p);
                        joining.add(r);
                    } else {
                        p.close();
                    }
                }
                group(joining, prefills);
            } catch (OrtException | RuntimeException e) {
                for (Row r : fresh) {
                    if (!r.done()) {
                        end(r, Finish.LENGTH);
                    }
                }
                throw e instanceof RuntimeException re ? re : new GlimpseException("ONNX prefill failed: " + e, e);
            } finally {
                prefills.forEach(OnnxCausalLM.Step::close);
            }
            return null;
        });
        return indices(fresh);
    }

    /** Puts prefilled rows in groups: each its own (rows apart, or a lone first row), else into the batch's. */
    private void group(List<Row> joining, List<OnnxCausalLM.Step> prefills) throws OrtException {
        if (apart || (groups.isEmpty() && joining.size() == 1)) {
            for (int j = 0; j < joining.size(); j++) {
                Group g = new Group(); // the row's own prefill is its cache, used as it is
                g.rows.add(joining.get(j));
                g.cache = prefills.get(j);
                groups.add(g);
            }
            prefills.clear();
        } else if (!joining.isEmpty()) {
            Group g = groups.isEmpty() ? new Group() : groups.get(0);
            repack(g, joining, prefills); // a new group joins only once its cache exists
            if (groups.isEmpty()) {
                groups.add(g);
            }
        }
    }

    /** One decode step for every active sequence: feeds each its last token and chooses its next. */
    @Override
    public void step() {
        OnnxThreads.call(() -> {
            for (Group g : new ArrayList<>(groups)) {
                step(g);
            }
            return null;
        });
    }

    private void step(Group g) {
        int b = g.rows.size();
        int width = g.cache.length;
        long[] last = new long[b];
        long[] pos = new long[b];
        long[] mask = new long[b * (width + 1)];
        for (int r = 0; r < b; r++) {
            Row row = g.rows.get(r);
            last[r] = row.lastToken();
            pos[r] = row.seen;
            for (int i = width - row.seen; i <= width; i++) {
                mask[r * (width + 1) + i] = 1;
            }
        }
        OnnxCausalLM.Step next;
        try {
            next = lm.forward(g.cache, last, null, mask, pos, b, 1, 1);
        } catch (OrtException e) {
            throw new GlimpseException("ONNX decode step failed: " + e.getMessage(), e);
        }
        g.cache.close();
        g.cache = next;
        int v = lm.config().vocabSize();
        boolean left = false;
        for (int r = 0; r < b; r++) {
            Row row = g.rows.get(r);
            row.seen++;
            left |= !choose(row, next.logits, r * v);
        }
        if (left) {
            try {
                repack(g, List.of(), List.of());
            } catch (OrtException e) {
                throw new GlimpseException("ONNX cache re-pack failed: " + e.getMessage(), e);
            }
        }
    }

    /** Positions in the widest group's cache, padding included (for tests: the longest active row's). */
    int width() {
        return groups.stream().mapToInt(g -> g.cache.length).max().orElse(0);
    }

    /** Groups decoded in separate runs (for tests: one when batching, one per row when rows go apart). */
    int groups() {
        return groups.size();
    }

    /**
     * Rebuilds a group's cache from its rows still going (their positions in the current cache) and the rows
     * joining (each with its own prefill): every row's positions copied to the right end of a cache as wide as the
     * longest row. A group left empty is dropped.
     */
    private void repack(Group g, List<Row> joining, List<OnnxCausalLM.Step> prefills) throws OrtException {
        List<Row> kept = new ArrayList<>();
        List<Integer> keptAt = new ArrayList<>();
        for (int r = 0; r < g.rows.size(); r++) {
            if (!g.rows.get(r).done()) {
                kept.add(g.rows.get(r));
                keptAt.add(r);
            }
        }
        if (joining.isEmpty() && kept.size() == g.rows.size()) {
            return;
        }
        List<Row> all = new ArrayList<>(kept);
        all.addAll(joining);
        if (all.isEmpty()) {
            g.rows.clear();
            if (g.cache != null) {
                g.cache.close();
            }
            groups.remove(g);
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
                        float[] src = floats(g.cache.present(layer, kind));
                        for (int i = 0; i < kept.size(); i++) {
                            copyRow(src, g.cache.length, keptAt.get(i), dst, width, i, kept.get(i).seen, kv, hd);
                        }
                    }
                    for (int j = 0; j < joining.size(); j++) {
                        OnnxCausalLM.Step p = prefills.get(j);
                        copyRow(floats(p.present(layer, kind)), p.length, 0, dst, width, kept.size() + j,
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
        if (g.cache != null) {
            g.cache.close();
        }
        g.cache = new OnnxCausalLM.Step(packed, width);
        g.rows.clear();
        g.rows.addAll(all);
    }

    private static float[] floats(OnnxTensor t) {
        FloatBuffer fb = t.getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    /** The last {@code seen} positions of row {@code from} of [rows, kv, srcWidth, hd] to the right end of a row of dst. */
    private static void copyRow(float[] src, int srcWidth, int from, float[] dst, int width, int to, int seen, int kv,
                                int hd) {
        for (int h = 0; h < kv; h++) {
            int s = ((from * kv + h) * srcWidth + srcWidth - seen) * hd;
            int d = ((to * kv + h) * width + width - seen) * hd;
            System.arraycopy(src, s, dst, d, seen * hd);
        }
    }

    @Override
    public void close() {
        OnnxThreads.call(() -> {
            groups.forEach(g -> g.cache.close());
            return null;
        });
        groups.clear();
    }
}
