package dev.glimpse.language;

import dev.glimpse.core.BadInputException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * What continuous batching is on any engine: the sequences in flight, how each chooses its next token and when it
 * ends, and their results. An engine's decoder adds only how prompts are prefilled and how the batch's KV cache
 * grows, joins and shrinks.
 */
abstract class BatchedDecoder implements Decoder {
    /** A sequence in flight: what it has made so far and how it goes on. */
    static class Row {
        final Sequence seq;
        final Set<Integer> stops;
        final Random random;
        final List<Integer> out = new ArrayList<>();
        final int index;
        int seen; // positions of this row in the cache (prompt + fed tokens)
        Finish finish;

        Row(Sequence seq, Set<Integer> stops, int index) {
            this.seq = seq;
            this.stops = stops;
            this.random = new Random(seq.options().seed());
            this.index = index;
            this.seen = seq.prompt().length();
        }

        int lastToken() {
            return out.get(out.size() - 1);
        }

        boolean done() {
            return finish != null;
        }
    }

    private final LanguageModel lm;
    private final List<int[]> finished = new ArrayList<>();
    private final List<Finish> finishes = new ArrayList<>();

    BatchedDecoder(LanguageModel lm) {
        this.lm = lm;
    }

    /** Checks new sequences against the model and numbers them; their rows are not in the batch yet. */
    List<Row> register(List<Sequence> sequences) {
        int maxPos = lm.config().maxPositionEmbeddings();
        for (Sequence s : sequences) {
            int p = s.prompt().length();
            if (p == 0) {
                throw new BadInputException("an empty prompt cannot be continued: give at least one token (e.g. BOS)");
            }
            if (p + s.options().maxNewTokens() > maxPos) {
                throw new BadInputException("prompt of " + p + " tokens + " + s.options().maxNewTokens()
                        + " new tokens exceeds max_position_embeddings (" + maxPos + ")");
            }
        }
        List<Row> rows = new ArrayList<>();
        for (Sequence s : sequences) {
            Set<Integer> stops = new LinkedHashSet<>(s.options().stopTokens());
            if (s.options().useModelStopTokens()) {
                stops.addAll(lm.generationConfig().eosTokenIds());
                stops.addAll(lm.config().eosTokenIds());
            }
            rows.add(newRow(s, stops, finished.size()));
            finished.add(null);
            finishes.add(null);
        }
        return rows;
    }

    /** A new row; engines that keep more per row make their own kind. */
    Row newRow(Sequence s, Set<Integer> stops, int index) {
        return new Row(s, stops, index);
    }

    static int[] indices(List<Row> rows) {
        return rows.stream().mapToInt(r -> r.index).toArray();
    }

    /**
     * Chooses a row's next token from its logits (greedy or sampled with the row's own seeded generator), tells its
     * sink, and ends the row at a stop token, when its sink asks, or at its length; false once the row has ended.
     */
    boolean choose(Row row, float[] logits, int offset) {
        GenerationOptions o = row.seq.options();
        if (o.maxNewTokens() == 0) {
            end(row, Finish.LENGTH);
            return false;
        }
        int v = lm.config().vocabSize();
        int tok = o.doSample() ? Sampler.sample(logits, offset, v, o, row.random) : Sampler.argmax(logits, offset, v);
        row.out.add(tok);
        boolean more = row.seq.sink() == null || row.seq.sink().accept(tok, logits, offset);
        if (row.stops.contains(tok)) {
            end(row, Finish.STOP_TOKEN);
        } else if (!more) {
            end(row, Finish.SINK);
        } else if (row.out.size() >= o.maxNewTokens()) {
            end(row, Finish.LENGTH);
        }
        return !row.done();
    }

    /** Records a row's end; its result is readable from now on. */
    void end(Row row, Finish why) {
        row.finish = why;
        finished.set(row.index, row.out.stream().mapToInt(Integer::intValue).toArray());
        finishes.set(row.index, why);
    }

    @Override
    public Finish finish(int index) {
        return finishes.get(index);
    }

    @Override
    public int[] result(int index) {
        return finished.get(index);
    }
}
