package dev.glimpse.language;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.LanguageModelConfig;
import java.util.List;
import java.util.Optional;

/**
 * A frozen Llama-family causal LM (Llama, Qwen2, Qwen3) on either engine: {@link CausalLM} on DJL (libtorch; the one
 * that trains) or {@link OnnxCausalLM} on ONNX Runtime (fp32 to int4 weights). Prompts are {@link Prompt}s: token
 * ids with embedding slots (projected image features). Every method answers the same on both engines, within the
 * weight format's error.
 *
 * <p>Thread-safe: weights are read-only; a {@link Decoder} is driven by one thread.
 */
public interface LanguageModel extends AutoCloseable {
    /** The tokens a generation made (a stop token kept last) and why it ended. */
    record Generation(int[] tokens, Decoder.Finish finish) {}

    LanguageModelConfig config();

    GenerationConfig generationConfig();

    /** The tokenizer, when the checkpoint has one. */
    Optional<Tokenizer> tokenizer();

    /** The engine running this model. */
    InferenceEngine engine();

    /** Where embeddings for the slots are best made (the device the model computes on). */
    Device device();

    /** The type the model computes in: slot embeddings made in this type lose nothing on their way in. */
    DataType dataType();

    /** Logits [T, V] of every position of {@code prompt}, as fp32. */
    float[] logits(Prompt prompt);

    /**
     * For each prompt, the log-likelihood of each of its continuations: the sum over the continuation's tokens of
     * log p(token | prompt, previous tokens). Prompts that arrive together are scored together where the engine can.
     */
    List<double[]> scoreContinuations(List<Prompt> prompts, List<List<int[]>> continuations);

    /** A decoder for continuous batching over this model. */
    Decoder decoder();

    /** As {@link #scoreContinuations(List, List)} for one prompt. */
    default double[] scoreContinuations(Prompt prompt, List<int[]> continuations) {
        return scoreContinuations(List.of(prompt), List.of(continuations)).get(0);
    }

    /** Generates after {@code prompt}, giving {@code sink} (or null) each token as it is made. */
    default Generation generate(Prompt prompt, GenerationOptions options, Decoder.TokenSink sink) {
        try (Decoder d = decoder()) { // one sequence: the decoder's token choice, stops and cache
            int id = d.add(List.of(new Decoder.Sequence(prompt, options, sink)))[0];
            while (d.active() > 0) {
                d.step();
            }
            return new Generation(d.result(id), d.finish(id));
        }
    }

    /** Generates after token ids, giving {@code sink} (or null) each token; returns only the new tokens. */
    default int[] generate(int[] prompt, GenerationOptions options, Decoder.TokenSink sink) {
        return generate(Prompt.of(prompt), options, sink).tokens();
    }

    /** Generates after token ids; returns only the new tokens (a stop token kept). */
    default int[] generate(int[] prompt, GenerationOptions options) {
        return generate(prompt, options, null);
    }

    /** As {@link #scoreContinuations(List, List)} for one prompt of token ids. */
    default double[] scoreContinuations(int[] prompt, List<int[]> continuations) {
        return scoreContinuations(Prompt.of(prompt), continuations);
    }

    @Override
    void close();
}
