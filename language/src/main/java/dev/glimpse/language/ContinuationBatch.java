package dev.glimpse.language;

import dev.glimpse.core.BadInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Batched continuation scoring, the one algorithm both engines run: the prompts, left-padded to one width, run
 * together once; then every continuation of every prompt (all but its last token, right-padded) runs together over
 * a copy of its prompt's cache row. A continuation's log-likelihood is the log-probability of its first token after
 * the prompt plus those of the rest, each after the tokens before it. The engine supplies only the two passes
 * ({@link Passes}); this class lays out the ids, masks and positions and adds up the scores.
 */
final class ContinuationBatch {
    /** How an engine runs the two passes; it holds the prompts' contents and the cache between them. */
    interface Passes {
        /**
         * Runs the prompts left-padded as {@code p} lays them out, keeping their cache; returns, for each
         * continuation {@code t}, log p(its first token | prompt {@code rowOf[t]}).
         */
        float[] prompts(PromptLayout p, int[] rowOf, int[] firstTokens);

        /**
         * Runs {@code c.ids} [total, fed] over the cache rows {@code c.rows} (with {@code c.mask} over cache and new
         * positions and {@code c.positions}); returns log p(c.targets) [total, fed] at each fed position.
         */
        float[] continuations(ContinuationLayout c);
    }

    /** Prompts left-padded to {@code width}: 1 on real positions, positions counted from each prompt's start. */
    record PromptLayout(int rows, int width, long[] mask, long[] positions, int[] lengths) {
        /** Where prompt {@code i}'s first position lies in its padded row. */
        int pad(int i) {
            return width - lengths[i];
        }
    }

    /** The continuations' pass: cache rows to repeat, fed ids, mask [total, width + fed], positions and targets. */
    record ContinuationLayout(long[] rows, long[] ids, long[] mask, long[] positions, long[] targets, int total,
                              int width, int fed) {}

    final int[] rowOf;
    final int[][] tokens;
    /** Tokens of the longest continuation. */
    final int longest;
    private final int[] perPrompt;

    ContinuationBatch(List<List<int[]>> continuations) {
        perPrompt = continuations.stream().mapToInt(List::size).toArray();
        int total = Arrays.stream(perPrompt).sum();
        rowOf = new int[total];
        tokens = new int[total][];
        int most = 0;
        for (int i = 0, t = 0; i < continuations.size(); i++) {
            for (int[] c : continuations.get(i)) {
                if (c.length == 0) {
                    throw new BadInputException("an empty continuation has no likelihood to score");
                }
                most = Math.max(most, c.length);
                rowOf[t] = i;
                tokens[t++] = c;
            }
        }
        longest = most;
    }

    int total() {
        return tokens.length;
    }

    /** The scores, one array per prompt, of prompts of {@code lengths} positions run by {@code passes}. */
    List<double[]> score(int[] lengths, Passes passes) {
        PromptLayout p = layout(lengths);
        int[] first = new int[total()];
        for (int t = 0; t < total(); t++) {
            first[t] = tokens[t][0];
        }
        float[] firstLp = passes.prompts(p, rowOf, first);
        double[] scores = new double[total()];
        for (int t = 0; t < total(); t++) {
            scores[t] = firstLp[t];
        }
        if (longest > 1) {
            ContinuationLayout c = continuations(p);
            float[] picked = passes.continuations(c);
            for (int t = 0; t < total(); t++) {
                for (int j = 1; j < tokens[t].length; j++) {
                    scores[t] += picked[t * c.fed() + j - 1];
                }
            }
        }
        return split(scores);
    }

    static PromptLayout layout(int[] lengths) {
        int width = Arrays.stream(lengths).max().orElse(0);
        int n = lengths.length;
        long[] mask = new long[n * width];
        long[] pos = new long[n * width];
        for (int i = 0; i < n; i++) {
            int pad = width - lengths[i];
            for (int j = 0; j < lengths[i]; j++) {
                mask[i * width + pad + j] = 1;
                pos[i * width + pad + j] = j;
            }
        }
        return new PromptLayout(n, width, mask, pos, lengths.clone());
    }

    /** Every continuation over its prompt's cache row: all but its last token fed, right padding masked. */
    private ContinuationLayout continuations(PromptLayout p) {
        int total = total();
        int pm = p.width();
        int fed = longest - 1;
        long[] rows = new long[total];
        long[] ids = new long[total * fed];
        long[] mask = new long[total * (pm + fed)];
        long[] pos = new long[total * fed];
        long[] targets = new long[total * fed];
        for (int t = 0; t < total; t++) {
            int r = rowOf[t];
            int[] c = tokens[t];
            rows[t] = r;
            System.arraycopy(p.mask(), r * pm, mask, t * (pm + fed), pm);
            for (int j = 0; j < fed; j++) {
                pos[t * fed + j] = p.lengths()[r] + j;
                if (j < c.length - 1) {
                    ids[t * fed + j] = c[j];
                    targets[t * fed + j] = c[j + 1];
                    mask[t * (pm + fed) + pm + j] = 1;
                }
            }
        }
        return new ContinuationLayout(rows, ids, mask, pos, targets, total, pm, fed);
    }

    /** Scores of the flattened continuations, one array per prompt again. */
    private List<double[]> split(double[] scores) {
        List<double[]> out = new ArrayList<>();
        for (int i = 0, t = 0; i < perPrompt.length; i++) {
            out.add(Arrays.copyOfRange(scores, t, t + perPrompt[i]));
            t += perPrompt[i];
        }
        return out;
    }
}
