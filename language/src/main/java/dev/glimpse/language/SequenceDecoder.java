package dev.glimpse.language;

/**
 * Continuous batching as its user drives it, on either engine ({@link Decoder} on DJL, {@link OnnxDecoder} on ONNX
 * Runtime): sequences are added (each engine takes its own kind of prompt), then stepped until none is active.
 */
public interface SequenceDecoder extends AutoCloseable {
    /** Sequences still decoding. */
    int active();

    /** One new token for every active sequence. */
    void step();

    /** Why sequence {@code index} ended, once it is done, else null. */
    Decoder.Finish finish(int index);

    /** The new tokens of sequence {@code index} once it is done (stop token kept), else null. */
    int[] result(int index);

    @Override
    void close();
}
