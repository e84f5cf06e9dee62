package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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
 * Batched continuation scoring, the one algorithm both engines run (stories260k, fp32): several prompts of unequal
 * lengths (left padding) and continuations of unequal lengths (right padding) score as each prompt alone, a prompt
 * given partly as embedding slots scores as its tokens, and the two engines agree.
 */
class BatchScoringTest {
    static CausalLM djl;
    static OnnxCausalLM onnx;
    @TempDir
    static Path cache;

    static final List<String> PROMPTS = List.of("Once upon a time, there was a", "The cat sat on the mat. It was",
            "Tom and Sue went to the park to play with their big red");
    static final List<List<String>> OPTIONS = List.of(List.of(" girl", " little dog named Max", " king"),
            List.of(" happy", " very sad and tired"), List.of(" ball", " kite", " car", " dog that liked to run"));

    @BeforeAll
    static void load() {
        djl = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(), DataType.FLOAT32);
        onnx = OnnxCausalLM.builder(TestData.model("stories260k")).cacheDir(cache).build();
    }

    @AfterAll
    static void close() {
        djl.close();
        onnx.close();
    }

    static List<Prompt> prompts() {
        return PROMPTS.stream().map(p -> Prompt.of(djl.requireTokenizer().encode(p))).toList();
    }

    static List<List<int[]>> continuations() {
        List<List<int[]>> conts = new ArrayList<>();
        for (List<String> o : OPTIONS) {
            conts.add(o.stream().map(x -> djl.requireTokenizer().encode(x, false)).toList());
        }
        return conts;
    }

    static void assertScores(List<double[]> want, List<double[]> got, double tol, String what) {
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).length, got.get(i).length);
            for (int k = 0; k < want.get(i).length; k++) {
                assertEquals(want.get(i)[k], got.get(i)[k], tol, what + ": prompt " + i + " option " + k);
            }
        }
    }

    @Test
    void aBatchOfPromptsScoresAsEachAloneOnBothEngines() {
        for (LanguageModel lm : List.<LanguageModel>of(djl, onnx)) {
            List<double[]> alone = new ArrayList<>();
            for (int i = 0; i < PROMPTS.size(); i++) {
                alone.add(lm.scoreContinuations(prompts().get(i), continuations().get(i)));
            }
            // fp32 sums over up to 7 tokens; padded batch kernels may round differently: 1e-4 absolute
            assertScores(alone, lm.scoreContinuations(prompts(), continuations()), 1e-4, lm.engine().toString());
        }
        assertScores(djl.scoreContinuations(prompts(), continuations()),
                onnx.scoreContinuations(prompts(), continuations()), 1e-4, "onnx against djl");
    }

    @Test
    void embeddingSlotsScoreAsTheTokensTheyHold() {
        int[] ids = prompts().get(1).ids();
        float[] table;
        try (NDManager m = djl.manager().newSubManager()) {
            table = djl.embed(m.create(Arrays.stream(ids).asLongStream().toArray(), new Shape(1, ids.length)))
                    .toFloatArray();
        }
        int h = djl.config().hiddenSize();
        int[] slotted = ids.clone();
        slotted[2] = Prompt.SLOT; // positions 2 and 3 as embeddings, as an image's tokens come
        slotted[3] = Prompt.SLOT;
        Prompt mixed = new Prompt(slotted, Arrays.copyOfRange(table, 2 * h, 4 * h));
        for (LanguageModel lm : List.<LanguageModel>of(djl, onnx)) {
            List<Prompt> ps = List.of(prompts().get(0), mixed, prompts().get(2));
            assertScores(lm.scoreContinuations(prompts(), continuations()), lm.scoreContinuations(ps, continuations()),
                    1e-5, lm.engine() + " with slots");
        }
    }
}
