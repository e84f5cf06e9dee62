package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;
import dev.glimpse.language.Prompt;
import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Token ids of a prompt in which each {@code <image>} placeholder has become N image slots ({@link Prompt#SLOT}),
 * which the LLM fills with the projected image tokens, in order ({@link VisionLanguageModel#prompt}); and the one
 * rule by which answer tokens are cut from a prompt, for training targets and scored choices alike.
 */
public record MultimodalPrompt(int[] ids, int images) {
    public static final String IMAGE = "<image>";
    public static final int SLOT = Prompt.SLOT;

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
        return continuationIds(tok, context, tok.encode(context, specials), cont, specials);
    }

    private static int[] continuationIds(Tokenizer tok, String context, int[] base, String cont, boolean specials) {
        int[] full = tok.encode(context + cont, specials);
        boolean prefix = full.length > base.length;
        for (int i = 0; prefix && i < base.length; i++) {
            prefix = full[i] == base[i];
        }
        return prefix ? java.util.Arrays.copyOfRange(full, base.length, full.length) : tok.encode(cont, false);
    }

    /**
     * The token ids of {@code answer} after {@code prompt} (which may hold {@code <image>}s): the one rule by which
     * training targets are made and choices are scored.
     */
    public static int[] answerIds(Tokenizer tok, String prompt, String answer) {
        return answerIds(tok, prompt, List.of(answer)).get(0);
    }

    /** As {@link #answerIds(Tokenizer, String, String)} for several answers, the prompt's tail tokenized once. */
    public static List<int[]> answerIds(Tokenizer tok, String prompt, List<String> answers) {
        int cut = prompt.lastIndexOf(IMAGE);
        String tail = cut < 0 ? prompt : prompt.substring(cut + IMAGE.length());
        boolean specials = cut < 0;
        int[] base = tok.encode(tail, specials);
        List<int[]> out = new ArrayList<>();
        for (String a : answers) {
            out.add(continuationIds(tok, tail, base, a, specials));
        }
        return out;
    }

    public int slots() {
        int n = 0;
        for (int id : ids) {
            n += id == SLOT ? 1 : 0;
        }
        return n;
    }
}
