package dev.glimpse.language;

import java.util.List;

/**
 * Continuous batching over a {@link LanguageModel}, on either engine: sequences decode together, one forward pass
 * per step for all of them, each with its own options (length, sampling, seed, stops) and each leaving as soon as it
 * is done; new sequences {@link #add join} between steps without waiting for the others. One thread drives a
 * decoder; close it to free its cache.
 *
 * <pre>{@code
 * try (Decoder d = llm.decoder()) {
 *     int id = d.add(List.of(Decoder.Sequence.of(Prompt.of(ids), GenerationOptions.greedy(32))))[0];
 *     while (d.active() > 0) d.step();
 *     int[] tokens = d.result(id);
 * }
 * }</pre>
 */
public interface Decoder extends AutoCloseable {
    /** Hears each chosen token of a sequence with that step's logits ({@code vocab} values from {@code offset}). */
    @FunctionalInterface
    interface TokenSink {
        /** Returns false to end the sequence after this token (e.g. a stop string was seen). */
        boolean accept(int tokenId, float[] logits, int offset);
    }

    /** Why a sequence ended. */
    enum Finish {
        /** It made one of its stop tokens (kept as its last token). */
        STOP_TOKEN,
        /** It made {@code maxNewTokens} tokens. */
        LENGTH,
        /** Its sink asked it to end. */
        SINK
    }

    /** One sequence to continue: its prompt, its options, and a sink that hears each token (or null). */
    record Sequence(Prompt prompt, GenerationOptions options, TokenSink sink) {
        public static Sequence of(Prompt prompt, GenerationOptions options) {
            return new Sequence(prompt, options, null);
        }

        /** A prompt of token ids. */
        public static Sequence ids(int[] promptIds, GenerationOptions options) {
            return of(Prompt.of(promptIds), options);
        }

        public Sequence sink(TokenSink s) {
            return new Sequence(prompt, options, s);
        }
    }

    /**
     * Prefills {@code sequences}, chooses their first tokens and joins those still going to the batch. Returns their
     * indices (0, 1, ... in the order sequences were ever added) for {@link #result}.
     */
    int[] add(List<Sequence> sequences);

    /** Sequences still decoding. */
    int active();

    /** One new token for every active sequence. */
    void step();

    /** Why sequence {@code index} ended, once it is done, else null. */
    Finish finish(int index);

    /** The new tokens of sequence {@code index} once it is done (stop token kept), else null. */
    int[] result(int index);

    @Override
    void close();
}
