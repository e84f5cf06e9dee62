package dev.glimpse.language;

import dev.glimpse.core.BadInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The continuations of several prompts flattened into one list, as both engines score them: continuation {@code t}
 * belongs to prompt {@code rowOf[t]}; its log-likelihood is the log-probability of its first token after the
 * prompt plus those of the rest, each after the tokens before it.
 */
final class ContinuationBatch {
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

    /** Scores of the flattened continuations, one array per prompt again. */
    List<double[]> split(double[] scores) {
        List<double[]> out = new ArrayList<>();
        for (int i = 0, t = 0; i < perPrompt.length; i++) {
            out.add(Arrays.copyOfRange(scores, t, t + perPrompt[i]));
            t += perPrompt[i];
        }
        return out;
    }
}
