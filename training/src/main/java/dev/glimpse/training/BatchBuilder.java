package dev.glimpse.training;

import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Tokenizes examples into padded batches: prompt (with image slots) then answer then EOS (unless turned off); labels
 * are the answer and EOS tokens, −100 elsewhere; right padding carries mask 0 and no loss.
 */
public final class BatchBuilder {
    private final Tokenizer tokenizer;
    private final int tokensPerImage;
    private final int eos;
    private final int maxLength;

    /** Answers end with the LLM's end-of-sequence token, as LLaVA trains them. */
    public BatchBuilder(CausalLM llm, int tokensPerImage) {
        this(llm, tokensPerImage, true);
    }

    /**
     * With {@code endOfSequence} false the answers carry no end-of-sequence target: for LLMs that never learnt to end
     * (stories260k gives its EOS log-probability -27 to -31 after an answer), where that one target's loss would
     * dominate the gradient and, clipped, starve the answer's signal. Likelihood scoring does not need it.
     */
    public BatchBuilder(CausalLM llm, int tokensPerImage, boolean endOfSequence) {
        this.tokenizer = llm.requireTokenizer();
        this.tokensPerImage = tokensPerImage;
        List<Integer> e = new ArrayList<>(llm.generationConfig().eosTokenIds());
        e.addAll(llm.config().eosTokenIds());
        this.eos = e.isEmpty() || !endOfSequence ? -1 : e.get(0);
        this.maxLength = llm.config().maxPositionEmbeddings();
    }

    /** The tokens of one example: ids (with slots) and labels. */
    public record Tokens(int[] ids, int[] labels) {}

    public Tokens tokenize(TrainingExample ex) {
        MultimodalPrompt p = MultimodalPrompt.encode(tokenizer, ex.prompt(), tokensPerImage);
        if (p.images() != ex.imageKeys().size()) {
            throw new BadInputException("example " + ex.id() + ": prompt has " + p.images()
                    + " <image> placeholder(s) but " + ex.imageKeys().size() + " image(s)");
        }
        int[] answer = MultimodalPrompt.answerIds(tokenizer, ex.prompt(), ex.answer());
        int n = p.ids().length + answer.length + (eos >= 0 ? 1 : 0);
        if (n > maxLength) {
            throw new BadInputException("example " + ex.id() + " is " + n + " tokens, longer than the LLM's "
                    + maxLength + " positions (Glimpse does not truncate silently)");
        }
        int[] ids = Arrays.copyOf(p.ids(), n);
        int[] labels = new int[n];
        Arrays.fill(labels, -100);
        for (int i = 0; i < answer.length; i++) {
            ids[p.ids().length + i] = answer[i];
            labels[p.ids().length + i] = answer[i];
        }
        if (eos >= 0) {
            ids[n - 1] = eos;
            labels[n - 1] = eos;
        }
        return new Tokens(ids, labels);
    }

    /** Pads tokenized examples into one batch, gathering their image features in slot order. */
    public static TrainingBatch pad(List<Tokens> rows, List<TrainingExample> examples,
                                    Function<String, float[]> features) {
        int len = rows.stream().mapToInt(r -> r.ids().length).max().orElse(0);
        int b = rows.size();
        int[][] ids = new int[b][len];
        int[][] labels = new int[b][len];
        int[][] mask = new int[b][len];
        List<float[]> feats = new ArrayList<>();
        for (int r = 0; r < b; r++) {
            Tokens t = rows.get(r);
            Arrays.fill(labels[r], -100);
            System.arraycopy(t.ids(), 0, ids[r], 0, t.ids().length);
            System.arraycopy(t.labels(), 0, labels[r], 0, t.labels().length);
            Arrays.fill(mask[r], 0, t.ids().length, 1);
            for (String key : examples.get(r).imageKeys()) {
                float[] f = features.apply(key);
                if (f == null) {
                    throw new BadInputException("example " + examples.get(r).id() + ": no features for image " + key);
                }
                feats.add(f);
            }
        }
        return new TrainingBatch(ids, labels, mask, feats);
    }
}
