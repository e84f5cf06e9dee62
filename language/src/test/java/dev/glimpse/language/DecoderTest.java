package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching on real weights (stories260k): every sequence of a batch, whenever it joined, makes exactly the
 * tokens it makes alone.
 */
class DecoderTest {
    static CausalLM lm;
    static Tokenizer tok;

    @BeforeAll
    static void load() {
        lm = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(), DataType.FLOAT32);
        tok = lm.requireTokenizer();
    }

    @AfterAll
    static void close() {
        lm.close();
    }

    static int[] prompt(String text) {
        return tok.encode(text);
    }

    static GenerationOptions greedy(int n) {
        return GenerationOptions.builder().maxNewTokens(n).useModelStopTokens(false).build();
    }

    static int[] alone(int[] p, GenerationOptions o) {
        return lm.generate(p, o, null);
    }

    @Test
    void aBatchOfUnequalPromptsAndLengthsEqualsEachAlone() {
        List<int[]> prompts = List.of(prompt("Once upon a time"), prompt("Tom had a big red ball. He"),
                prompt("The cat"));
        List<GenerationOptions> opts = List.of(greedy(12), greedy(30), greedy(5));
        try (Decoder d = lm.decoder()) {
            List<Decoder.Sequence> seqs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                seqs.add(Decoder.Sequence.ids(prompts.get(i), opts.get(i)));
            }
            int[] ids = d.add(seqs);
            int steps = 0;
            while (d.active() > 0) {
                d.step();
                steps++;
            }
            assertEquals(29, steps, "the longest sequence decides the steps: 30 tokens, the first from the prefill");
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(alone(prompts.get(i), opts.get(i)), d.result(ids[i]), "row " + i);
            }
        }
    }

    @Test
    void sequencesJoiningMidFlightEqualEachAloneAndPaddingIsTrimmed() {
        int[] a = prompt("Lily went to the park");
        int[] b = prompt("One day, a little bird named Blue saw a very big tree in the forest and");
        int[] c = prompt("He");
        try (TorchDecoder d = (TorchDecoder) lm.decoder()) {
            int ia = d.add(List.of(Decoder.Sequence.ids(a, greedy(20))))[0];
            for (int i = 0; i < 6; i++) {
                d.step();
            }
            // b is longer than the batch so far (a's cache is padded), c is shorter (c is padded)
            int[] bc = d.add(List.of(Decoder.Sequence.ids(b, greedy(25)), Decoder.Sequence.ids(c, greedy(8))));
            assertEquals(3, d.active());
            while (d.active() > 0) {
                long longest = d.longestRow();
                assertTrue(d.width() <= longest, "cache width " + d.width() + " > longest row " + longest);
                d.step();
            }
            assertArrayEquals(alone(a, greedy(20)), d.result(ia));
            assertArrayEquals(alone(b, greedy(25)), d.result(bc[0]));
            assertArrayEquals(alone(c, greedy(8)), d.result(bc[1]));
            // the decoder is reusable once empty
            int id = d.add(List.of(Decoder.Sequence.ids(c, greedy(4))))[0];
            while (d.active() > 0) {
                d.step();
            }
            assertArrayEquals(alone(c, greedy(4)), d.result(id));
        }
    }

    @Test
    void eachRowSamplesWithItsOwnSeedAndStopsOnItsOwnTokens() {
        int[] p = prompt("Once upon a time");
        GenerationOptions s7 = GenerationOptions.builder().maxNewTokens(24).sample(1.0, 40, 0.9).seed(7).build();
        GenerationOptions s8 = GenerationOptions.builder().maxNewTokens(24).sample(1.0, 40, 0.9).seed(8).build();
        int[] greedy = alone(p, greedy(24));
        int stop = greedy[5]; // a token greedy decoding makes: that row must end on it
        GenerationOptions stopping = GenerationOptions.builder().maxNewTokens(24).useModelStopTokens(false)
                .stopToken(stop).build();
        try (Decoder d = lm.decoder()) {
            int[] ids = d.add(List.of(Decoder.Sequence.ids(p, s7), Decoder.Sequence.ids(p, s8),
                    Decoder.Sequence.ids(p, stopping)));
            while (d.active() > 0) {
                d.step();
            }
            assertArrayEquals(alone(p, s7), d.result(ids[0]));
            assertArrayEquals(alone(p, s8), d.result(ids[1]));
            int[] stopped = d.result(ids[2]);
            assertEquals(stop, stopped[stopped.length - 1]);
            assertEquals(Decoder.Finish.STOP_TOKEN, d.finish(ids[2]));
            assertTrue(stopped.length <= 6);
        }
    }

    @Test
    void aSinkHearsTheLogitsOfItsRowAndCanEndIt() {
        int[] p = prompt("The dog");
        int v = lm.config().vocabSize();
        List<Integer> heard = new ArrayList<>();
        try (Decoder d = lm.decoder()) {
            int id = d.add(List.of(Decoder.Sequence.ids(prompt("A long other prompt that shares the batch"),
                    greedy(10)), Decoder.Sequence.ids(p, greedy(50)).sink((t, logits, off) -> {
                        int best = 0;
                        for (int i = 1; i < v; i++) {
                            best = logits[off + i] > logits[off + best] ? i : best;
                        }
                        assertEquals(best, t, "greedy picks the argmax of the logits the sink sees");
                        heard.add(t);
                        return heard.size() < 4;
                    })))[1];
            while (d.active() > 0) {
                d.step();
            }
            int[] got = d.result(id);
            assertEquals(4, got.length);
            assertEquals(Decoder.Finish.SINK, d.finish(id));
            assertEquals(Decoder.Finish.LENGTH, d.finish(id - 1), "the other row made its 10 tokens");
            assertArrayEquals(Arrays.copyOf(alone(p, greedy(50)), 4), got);
        }
    }

    @Test
    void embeddingPromptsMixWithIdPrompts() {
        int[] a = prompt("Once upon a time");
        int[] b = prompt("Sue and Tom");
        try (NDManager m = lm.manager().newSubManager(); Decoder d = lm.decoder()) {
            // b given as embeddings only: every position a slot holding its token's embedding
            float[] e = lm.embed(m.create(toLong(b), new Shape(1, b.length))).toFloatArray();
            int[] slots = new int[b.length];
            Arrays.fill(slots, Prompt.SLOT);
            int[] ids = d.add(List.of(Decoder.Sequence.ids(a, greedy(9)), Decoder.Sequence.of(new Prompt(slots, e),
                    greedy(9))));
            assertNull(d.result(ids[0]), "not done yet");
            while (d.active() > 0) {
                d.step();
            }
            assertArrayEquals(alone(a, greedy(9)), d.result(ids[0]));
            assertArrayEquals(alone(b, greedy(9)), d.result(ids[1]));
        }
    }

    /** A decoder that serves for hours (the server's) holds a bounded number of arrays, however many pass through. */
    @Test
    void aLongLivedDecoderDoesNotAccumulateArrays() {
        int[][] prompts = {prompt("Once upon a time"), prompt("The dog ran to the"), prompt("Lily"),
            prompt("One day, a little bird named Blue")};
        try (TorchDecoder d = (TorchDecoder) lm.decoder()) {
            int[] sizes = new int[3];
            int added = 0;
            for (int round = 0; round < 3; round++) {
                for (int k = 0; k < 40; k++) {
                    while (d.active() < 4) {
                        d.add(List.of(Decoder.Sequence.ids(prompts[added % 4], greedy(3 + added % 7))));
                        added++;
                    }
                    d.step();
                }
                sizes[round] = d.liveArrays();
            }
            assertTrue(sizes[2] <= sizes[0] + 8, "arrays held after 40, 80, 120 steps: " + Arrays.toString(sizes));
        }
    }

    @Test
    void tooLongARequestIsRefusedAndTheBatchGoesOn() {
        int[] a = prompt("Once upon a time");
        try (Decoder d = lm.decoder()) {
            int id = d.add(List.of(Decoder.Sequence.ids(a, greedy(6))))[0];
            BadInputException e = assertThrows(BadInputException.class, () -> d.add(List.of(
                    Decoder.Sequence.ids(a, greedy(lm.config().maxPositionEmbeddings())))));
            assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
            while (d.active() > 0) {
                d.step();
            }
            assertArrayEquals(alone(a, greedy(6)), d.result(id));
        }
    }

    static long[] toLong(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return l;
    }
}
