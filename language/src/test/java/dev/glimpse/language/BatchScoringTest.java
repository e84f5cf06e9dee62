package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Several prompts' continuations scored in one batch equal each prompt scored alone (stories260k, fp32). */
class BatchScoringTest {
    static CausalLM lm;

    @BeforeAll
    static void load() {
        lm = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(), DataType.FLOAT32);
    }

    @AfterAll
    static void close() {
        lm.close();
    }

    @Test
    void aBatchOfPromptsScoresAsEachAlone() {
        Tokenizer tok = lm.requireTokenizer();
        List<String> prompts = List.of("Once upon a time, there was a", "The cat sat on the mat. It was",
                "Tom and Sue went to the park to play with their big red");
        List<List<String>> options = List.of(List.of(" girl", " little dog named Max", " king"),
                List.of(" happy", " very sad and tired"), List.of(" ball", " kite", " car", " dog that liked to run"));
        // each prompt scored alone (a batch of one, no padding) is the reference
        List<double[]> alone = new ArrayList<>();
        List<Prompt> all = new ArrayList<>();
        List<List<int[]>> conts = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = tok.encode(prompts.get(i));
            List<int[]> c = new ArrayList<>();
            for (String o : options.get(i)) {
                c.add(tok.encode(o, false));
            }
            alone.add(lm.scoreContinuations(p, c));
            all.add(Prompt.of(p));
            conts.add(c);
        }
        List<double[]> batched = lm.scoreContinuations(all, conts);
        for (int i = 0; i < prompts.size(); i++) {
            assertEquals(alone.get(i).length, batched.get(i).length);
            for (int k = 0; k < alone.get(i).length; k++) {
                // fp32 sums over up to 7 tokens; padded batch kernels may round differently: 1e-4 absolute
                assertEquals(alone.get(i)[k], batched.get(i)[k], 1e-4, "prompt " + i + " option " + k);
            }
        }
    }
}
