package dev.glimpse.language;

import dev.glimpse.core.BadInputException;

/**
 * A prompt as either engine takes it: token ids in which {@link #SLOT} marks a position filled by an embedding
 * instead (a projected image token), and those embeddings, [slots, H] row-major in slot order (null when there are
 * none). Each engine places the rows with {@link #placement()}, the one splice rule.
 */
public record Prompt(int[] ids, float[] slotEmbeddings) {
    /** The id of a position that takes its embedding from {@link #slotEmbeddings}. */
    public static final int SLOT = -1;

    /** A prompt of token ids only. */
    public static Prompt of(int[] ids) {
        return new Prompt(ids, null);
    }

    /** Positions of the prompt. */
    public int length() {
        return ids.length;
    }

    /** Positions marked {@link #SLOT}. */
    public int slots() {
        int n = 0;
        for (int id : ids) {
            n += id == SLOT ? 1 : 0;
        }
        return n;
    }

    /**
     * For each position, the row of {@code slotEmbeddings} it takes (slots in order), or −1 for a token; checks that
     * the rows match the slots for a model of {@code hidden} dimensions.
     */
    int[] placement(int hidden) {
        int[] row = new int[ids.length];
        int k = 0;
        for (int i = 0; i < ids.length; i++) {
            row[i] = ids[i] == SLOT ? k++ : -1;
        }
        long have = slotEmbeddings == null ? 0 : slotEmbeddings.length / hidden;
        if (k != have || (slotEmbeddings != null && slotEmbeddings.length % hidden != 0)) {
            throw new BadInputException("the prompt has " + k + " embedding slots but "
                    + (slotEmbeddings == null ? 0 : slotEmbeddings.length) + " values were given for them (expected "
                    + k + " × " + hidden + ")");
        }
        return row;
    }
}
