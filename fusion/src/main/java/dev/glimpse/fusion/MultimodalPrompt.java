package dev.glimpse.fusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Precision;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Token ids of a prompt in which each {@code <image>} placeholder has become N image slots (id −1), and the splice
 * that fills those slots with projected image features, in order, between the LLM's text embeddings.
 */
public record MultimodalPrompt(int[] ids, int images) {
    public static final String IMAGE = "<image>";
    public static final int SLOT = -1;

    /**
     * Tokenizes {@code text}: the first segment with the tokenizer's special tokens (BOS), the rest without, and
     * {@code tokensPerImage} slots for every {@code <image>}.
     */
    public static MultimodalPrompt encode(Tokenizer tok, String text, int tokensPerImage) {
        String[] parts = text.split(java.util.regex.Pattern.quote(IMAGE), -1);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                for (int k = 0; k < tokensPerImage; k++) {
                    ids.add(SLOT);
                }
            }
            int[] seg = i == 0 ? tok.encode(parts[i], true) : parts[i].isEmpty() ? new int[0]
                    : tok.encode(parts[i], false);
            for (int t : seg) {
                ids.add(t);
            }
        }
        return new MultimodalPrompt(ids.stream().mapToInt(Integer::intValue).toArray(), parts.length - 1);
    }

    /** Ids that already hold an image token (LLaVA checkpoints): each occurrence becomes a slot. */
    public static MultimodalPrompt fromIds(long[] ids, int imageTokenId, int tokensPerImage) {
        int[] out = new int[ids.length];
        int slots = 0;
        for (int i = 0; i < ids.length; i++) {
            out[i] = ids[i] == imageTokenId ? SLOT : (int) ids[i];
            slots += ids[i] == imageTokenId ? 1 : 0;
        }
        if (slots % tokensPerImage != 0) {
            throw new BadInputException(slots + " image tokens in the prompt is not a multiple of the tower's "
                    + tokensPerImage + " tokens per image");
        }
        return new MultimodalPrompt(out, slots / tokensPerImage);
    }

    /**
     * Token ids of {@code cont} as they appear after {@code context}: the tail of encode(context + cont) when
     * encode(context) is its prefix (tokenizers that merge across the boundary are handled), else encode(cont).
     * Training targets and scored options use this one rule, so what is learnt is what is scored.
     */
    public static int[] continuationIds(Tokenizer tok, String context, String cont, boolean specials) {
        int[] base = tok.encode(context, specials);
        int[] full = tok.encode(context + cont, specials);
        boolean prefix = full.length > base.length;
        for (int i = 0; prefix && i < base.length; i++) {
            prefix = full[i] == base[i];
        }
        return prefix ? java.util.Arrays.copyOfRange(full, base.length, full.length) : tok.encode(cont, false);
    }

    /**
     * Each row's global image feature [B, H]: the mean of its projected image tokens (zero for a row without
     * images; null when no row has one), as LLaMA-Adapter adds a global visual feature to its adaption prompts.
     * Differentiable in {@code imageEmbeds} [K, H], whose rows fill the slots of {@code rows} in row-major order.
     */
    public static NDArray globalImageFeature(NDManager m, int[][] rows, NDArray imageEmbeds) {
        int b = rows.length;
        if (imageEmbeds == null) {
            return null; // no row has an image: the prompts stay as trained, exactly as with zero features
        }
        int k = (int) imageEmbeds.getShape().get(0);
        float[] avg = new float[b * k];
        int slot = 0;
        for (int r = 0; r < b; r++) {
            int first = slot;
            for (int id : rows[r]) {
                slot += id == SLOT ? 1 : 0;
            }
            for (int j = first; j < slot; j++) {
                avg[r * k + j] = 1f / (slot - first);
            }
        }
        NDArray w = m.create(avg, new Shape(b, k));
        if (w.getDataType() != imageEmbeds.getDataType()) {
            w = w.toType(imageEmbeds.getDataType(), false);
        }
        return w.matMul(imageEmbeds);
    }

    /**
     * The token ids of {@code answer} after {@code prompt} (which may hold {@code <image>}s): the one rule by which
     * training targets are made and choices are scored.
     */
    public static int[] answerIds(Tokenizer tok, String prompt, String answer) {
        int cut = prompt.lastIndexOf(IMAGE);
        String tail = cut < 0 ? prompt : prompt.substring(cut + IMAGE.length());
        return continuationIds(tok, tail, answer, cut < 0);
    }

    public int slots() {
        int n = 0;
        for (int id : ids) {
            n += id == SLOT ? 1 : 0;
        }
        return n;
    }

    /**
     * Input embeddings [B, T, H] for rows of ids (−1 marking image slots), taking the slots' values from
     * {@code imageEmbeds} [K, H] in row-major order. Differentiable in {@code imageEmbeds}. Arrays live in
     * {@code m}.
     */
    public static NDArray splice(CausalLM lm, NDManager m, int[][] rows, NDArray imageEmbeds) {
        int b = rows.length;
        int t = rows[0].length;
        long[] ids = new long[b * t];
        long[] index = new long[b * t];
        int k = 0;
        for (int r = 0; r < b; r++) {
            if (rows[r].length != t) {
                throw new IllegalArgumentException("rows must be padded to one length");
            }
            for (int j = 0; j < t; j++) {
                int id = rows[r][j];
                ids[r * t + j] = id == SLOT ? 0 : id;
                index[r * t + j] = id == SLOT ? (long) b * t + k++ : (long) r * t + j;
            }
        }
        long have = imageEmbeds == null ? 0 : imageEmbeds.getShape().get(0);
        if (k != have) {
            throw new BadInputException("the prompt has " + k + " image slots but " + have + " image embeddings");
        }
        NDArray text = lm.embed(m.create(ids, new Shape(b, t))).reshape((long) b * t, lm.config().hiddenSize());
        if (k == 0) {
            return text.reshape(b, t, lm.config().hiddenSize());
        }
        NDArray img = Precision.cast(imageEmbeds, text.getDataType()); // keeps the graph when training

        NDArray all = text.concat(img, 0);
        return all.get(m.create(index)).reshape(b, t, lm.config().hiddenSize());
    }
}
