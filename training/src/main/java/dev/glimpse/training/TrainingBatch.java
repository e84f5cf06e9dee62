package dev.glimpse.training;

import java.util.List;

/**
 * A padded batch: token ids with image slots (−1), labels (−100 where no loss is taken: prompt, image slots,
 * padding), attention mask (1 real, 0 padding), and the tower features of every image slot group in order.
 */
public record TrainingBatch(int[][] ids, int[][] labels, int[][] mask, List<float[]> features) {
    public int size() {
        return ids.length;
    }

    public int length() {
        return ids[0].length;
    }

    /** Number of tokens that carry a loss (labels shifted by one, as the loss sees them). */
    public int targetTokens() {
        int n = 0;
        for (int[] row : labels) {
            for (int j = 1; j < row.length; j++) {
                n += row[j] != -100 ? 1 : 0;
            }
        }
        return n;
    }
}
