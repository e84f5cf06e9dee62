package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Continuous batching on the ONNX engine, on real weights (stories260k): every sequence of a batch, whenever it
 * joined and whoever left, makes exactly the tokens it makes alone, from logits within 1e-4 of its own.
 */
class OnnxDecoderTest {
    @TempDir
    static Path cache;
    static OnnxCausalLM lm;
    static Tokenizer tok;

    @BeforeAll
    static void load() {
        lm = OnnxCausalLM.builder(TestData.model("stories260k")).cacheDir(cache).build();
        tok = lm.tokenizer().orElseThrow();
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
        return lm.generate(p, o);
    }

    static Decoder.Sequence seq(int[] p, GenerationOptions o) {
        return Decoder.Sequence.ids(p, o);
    }

    static void drain(OnnxDecoder d) {
        while (d.active() > 0) {
            d.step();
        }
    }

    @Test
    void aBatchOfUnequalPromptsAndLengthsEqualsEachAlone() {
        List<int[]> prompts = List.of(prompt("Once upon a time"), prompt("Tom had a big red ball. He"),
                prompt("The cat"));
        List<GenerationOptions> opts = List.of(greedy(12), greedy(30), greedy(5));
        int v = lm.config().vocabSize();
        List<List<float[]>> heard = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        try (OnnxDecoder d = (OnnxDecoder) lm.decoder()) {
            List<OnnxDecoder.Sequence> seqs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                List<float[]> mine = heard.get(i);
                seqs.add(new Decoder.Sequence(Prompt.of(prompts.get(i)), opts.get(i), (t, logits, off) ->
                        mine.add(Arrays.copyOfRange(logits, off, off + v))));
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
                assertEquals(Decoder.Finish.LENGTH, d.finish(ids[i]));
                // the logits too, before and after the rows around it leave (the cache re-packed each time)
                List<float[]> own = new ArrayList<>();
                lm.generate(Prompt.of(prompts.get(i)), opts.get(i), (t, logits, off) ->
                        own.add(Arrays.copyOfRange(logits, off, off + v)));
                assertEquals(own.size(), heard.get(i).size());
                for (int s = 0; s < own.size(); s++) {
                    assertArrayEquals(own.get(s), heard.get(i).get(s), 1e-4f, "row " + i + " step " + s);
                }
            }
        }
    }

    @Test
    void sequencesJoiningMidFlightEqualEachAloneAndTheCacheIsAsWideAsTheLongestRow() {
        int[] a = prompt("Lily went to the park");
        int[] b = prompt("One day, a little bird named Blue saw a very big tree in the forest and");
        int[] c = prompt("He");
        try (OnnxDecoder d = (OnnxDecoder) lm.decoder()) {
            int ia = d.add(List.of(seq(a, greedy(20))))[0];
            for (int i = 0; i < 6; i++) {
                d.step();
            }
            // b is longer than the batch so far (a is padded), c is shorter (c is padded)
            int[] bc = d.add(List.of(seq(b, greedy(25)), seq(c, greedy(8))));
            assertEquals(3, d.active());
            assertEquals(b.length, d.width(), "the re-packed cache is as wide as its longest row");
            int widthBefore = 0;
            while (d.active() > 0) {
                int active = d.active();
                d.step();
                if (d.active() < active && d.active() > 0) {
                    assertTrue(d.width() <= widthBefore + 1, "rows leaving never widen the cache");
                }
                widthBefore = d.width();
            }
            assertArrayEquals(alone(a, greedy(20)), d.result(ia));
            assertArrayEquals(alone(b, greedy(25)), d.result(bc[0]));
            assertArrayEquals(alone(c, greedy(8)), d.result(bc[1]));
            assertEquals(0, d.width(), "an empty decoder holds no cache");
            // the decoder is reusable once empty
            int id = d.add(List.of(seq(c, greedy(4))))[0];
            drain(d);
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
        try (OnnxDecoder d = (OnnxDecoder) lm.decoder()) {
            int[] ids = d.add(List.of(seq(p, s7), seq(p, s8), seq(p, stopping)));
            drain(d);
            assertArrayEquals(alone(p, s7), d.result(ids[0]));
            assertArrayEquals(alone(p, s8), d.result(ids[1]));
            int[] stopped = d.result(ids[2]);
            assertEquals(stop, stopped[stopped.length - 1]);
            assertEquals(Decoder.Finish.STOP_TOKEN, d.finish(ids[2]));
            assertTrue(stopped.length <= 6);
        }
    }

    /** The logits a row's sink hears in the batch are those it hears alone (padding and batch change nothing). */
    @Test
    void aSinkHearsItsOwnLogitsAndCanEndIt() {
        int[] p = prompt("The dog");
        int v = lm.config().vocabSize();
        List<float[]> own = new ArrayList<>();
        lm.generate(Prompt.of(p), greedy(4), (t, logits, off) -> own.add(Arrays.copyOfRange(logits, off, off + v)));
        List<float[]> heard = new ArrayList<>();
        try (OnnxDecoder d = (OnnxDecoder) lm.decoder()) {
            int id = d.add(List.of(seq(prompt("A long other prompt that shares the batch"), greedy(10)),
                    new Decoder.Sequence(Prompt.of(p), greedy(50), (t, logits, off) -> {
                        heard.add(Arrays.copyOfRange(logits, off, off + v));
                        return heard.size() < 4;
                    })))[1];
            drain(d);
            int[] got = d.result(id);
            assertEquals(4, got.length);
            assertEquals(Decoder.Finish.SINK, d.finish(id));
            assertEquals(Decoder.Finish.LENGTH, d.finish(id - 1), "the other row made its 10 tokens");
            assertArrayEquals(Arrays.copyOf(alone(p, greedy(50)), 4), got);
        }
        for (int s = 0; s < 4; s++) {
            assertArrayEquals(own.get(s), heard.get(s), 1e-4f, "step " + s);
        }
    }

    @Test
    void embeddingPromptsMixWithIdPrompts() {
        int[] a = prompt("Once upon a time");
        int[] b = prompt("Sue and Tom");
        float[] rows;
        try (CausalLM djl = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(),
                DataType.FLOAT32); NDManager m = djl.manager().newSubManager()) {
            rows = djl.embed(m.create(CausalLM.toLongs(b), new Shape(1, b.length))).toFloatArray();
        }
        int[] slots = new int[b.length];
        Arrays.fill(slots, Prompt.SLOT); // every position from the embeddings given, as an image's are
        try (OnnxDecoder d = (OnnxDecoder) lm.decoder()) {
            int[] ids = d.add(List.of(seq(a, greedy(9)), Decoder.Sequence.of(new Prompt(slots, rows), greedy(9))));
            assertNull(d.result(ids[0]), "not done yet");
            drain(d);
            assertArrayEquals(alone(a, greedy(9)), d.result(ids[0]));
            assertArrayEquals(alone(b, greedy(9)), d.result(ids[1]));
        }
    }

    /**
     * int8 keeps activations fp32 by default, whose CPU kernel is fast for one row only: its decoder runs each
     * sequence apart (one group per row), int8 at accuracy level 4 batches them; both make what each makes alone.
     */
    @Test
    void int8WithFp32ActivationsDecodesRowsApartAndAtLevelFourTogether() {
        List<int[]> prompts = List.of(prompt("Once upon a time"), prompt("Tom had a big red ball. He"),
                prompt("The cat"));
        for (int level : new int[] {1, 4}) {
            try (OnnxCausalLM q = OnnxCausalLM.builder(TestData.model("stories260k")).cacheDir(cache)
                    .weights(WeightFormat.INT8).accuracyLevel(level).build(); OnnxDecoder d = (OnnxDecoder) q.decoder()) {
                assertEquals(level == 1, q.decodesRowsApart());
                int first = d.add(List.of(new Decoder.Sequence(Prompt.of(prompts.get(0)), greedy(12), null)))[0];
                d.step();
                int[] more = d.add(List.of(new Decoder.Sequence(Prompt.of(prompts.get(1)), greedy(20), null),
                        new Decoder.Sequence(Prompt.of(prompts.get(2)), greedy(5), null)));
                assertEquals(level == 1 ? 3 : 1, d.groups(), "level " + level);
                while (d.active() > 0) {
                    d.step();
                }
                assertEquals(0, d.groups());
                int[] all = {first, more[0], more[1]};
                int[] lengths = {12, 20, 5};
                for (int i = 0; i < 3; i++) {
                    assertArrayEquals(q.generate(Prompt.of(prompts.get(i)), greedy(lengths[i]), null)
                            .tokens(), d.result(all[i]), "level " + level + " row " + i);
                }
            }
        }
    }

    @Test
    void tooLongARequestIsRefusedAndTheBatchGoesOn() {
        int[] a = prompt("Once upon a time");
        try (OnnxDecoder d = (OnnxDecoder) lm.decoder()) {
            int id = d.add(List.of(seq(a, greedy(6))))[0];
            BadInputException e = assertThrows(BadInputException.class, () -> d.add(List.of(
                    seq(a, greedy(lm.config().maxPositionEmbeddings())))));
            assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
            drain(d);
            assertArrayEquals(alone(a, greedy(6)), d.result(id));
            assertEquals(Decoder.Finish.LENGTH, d.finish(id));
        }
    }
}
