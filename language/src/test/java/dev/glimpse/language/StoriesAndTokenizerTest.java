package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real weights: stories260k (a Llama trained on TinyStories) and a real GPT-2 tokenizer. */
class StoriesAndTokenizerTest {
    static CausalLM lm;
    static JsonNode ref;

    @BeforeAll
    static void load() throws Exception {
        Path dir = TestData.model("stories260k");
        lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32);
        ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
    }

    @AfterAll
    static void close() {
        lm.close();
    }

    static int[] ints(JsonNode n) {
        int[] a = new int[n.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = n.get(i).asInt();
        }
        return a;
    }

    @Test
    void greedyFromBosReproducesTheReference200Tokens() {
        JsonNode bos = ref.get("bos_greedy");
        int[] got = lm.generate(ints(bos.get("prompt_ids")),
                GenerationOptions.builder().maxNewTokens(200).useModelStopTokens(false).build(), null);
        assertArrayEquals(ints(bos.get("ids")), got);
        String text = lm.requireTokenizer().decode(got);
        assertTrue(text.startsWith("Once upon a time, there was a little girl named Lily"), text);
        assertEquals(bos.get("text").asText(), text);
    }

    @Test
    void referencePromptsEncodeAndContinueIdentically() {
        Tokenizer tok = lm.requireTokenizer();
        List<int[]> prompts = new ArrayList<>();
        List<int[]> expected = new ArrayList<>();
        for (JsonNode p : ref.get("prompts")) {
            int[] ids = tok.encode(p.get("prompt").asText());
            assertArrayEquals(ints(p.get("prompt_ids")), ids, p.get("prompt").asText());
            prompts.add(ids);
            expected.add(ints(p.get("greedy_next_ids")));
        }
        // all ten prompts in one left-padded batch: each row must equal its own greedy continuation
        List<int[]> got = lm.generate(prompts, GenerationOptions.builder().maxNewTokens(30).useModelStopTokens(false)
                .build());
        int i = 0;
        for (JsonNode p : ref.get("prompts")) {
            assertArrayEquals(expected.get(i), got.get(i), p.get("prompt").asText());
            assertEquals(p.get("greedy_next_text").asText(), tok.decode(got.get(i)));
            i++;
        }
    }

    @Test
    void streamingCallbackSeesEveryToken() {
        List<Integer> seen = new ArrayList<>();
        int[] got = lm.generate(new int[] {1}, GenerationOptions.greedy(10), (t, logits, off) -> seen.add(t));
        assertEquals(Arrays.stream(got).boxed().toList(), seen);
    }

    @Test
    void samplingIsSeededAndRepeatable() {
        GenerationOptions o = GenerationOptions.builder().maxNewTokens(20).sample(1.0, 40, 0.9).seed(42).build();
        int[] a = lm.generate(new int[] {1}, o, null);
        int[] b = lm.generate(new int[] {1}, o, null);
        assertArrayEquals(a, b);
        int[] c = lm.generate(new int[] {1}, GenerationOptions.builder().maxNewTokens(20).sample(1.0, 40, 0.9).seed(7)
                .build(), null);
        assertFalse(Arrays.equals(a, c), "another seed draws another story");
        // top-k 1 is greedy
        int[] k1 = lm.generate(new int[] {1}, GenerationOptions.builder().maxNewTokens(20).sample(1.0, 1, 1.0).seed(3)
                .build(), null);
        assertArrayEquals(lm.generate(new int[] {1}, GenerationOptions.greedy(20), null), k1);
    }

    @Test
    void stopTokensEndARowAndAreKept() {
        int[] greedy = lm.generate(new int[] {1}, GenerationOptions.greedy(20), null);
        int stop = greedy[5];
        int[] got = lm.generate(new int[] {1}, GenerationOptions.builder().maxNewTokens(20).stopToken(stop).build(),
                null);
        int first = 0;
        while (greedy[first] != stop) {
            first++;
        }
        assertArrayEquals(Arrays.copyOf(greedy, first + 1), got);
    }

    @Test
    void optionScoringMatchesTokenByTokenLikelihood() {
        Tokenizer tok = lm.requireTokenizer();
        int[] prompt = tok.encode("Once upon a time, there was a little girl named");
        List<int[]> options = List.of(tok.encode(" Lily", false), tok.encode(" Tom went home", false),
                tok.encode(" dog", false));
        double[] s = lm.scoreContinuations(prompt, options);
        // reference: full forward over prompt + option, summing log-softmax at each option token
        for (int i = 0; i < options.size(); i++) {
            int[] o = options.get(i);
            int[] all = new int[prompt.length + o.length];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(o, 0, all, prompt.length, o.length);
            double expected = 0;
            try (var m = GlimpseEngine.newCpuManager()) {
                var ids = m.create(CausalLM.toLongs(all), new ai.djl.ndarray.types.Shape(1, all.length));
                float[] lp = lm.forward(CausalLM.Input.ids(ids)).logits().logSoftmax(-1).toFloatArray();
                int v = lm.config().vocabSize();
                for (int j = 0; j < o.length; j++) {
                    expected += lp[(prompt.length + j - 1) * v + o[j]];
                }
            }
            // fp32 sums of log-probabilities near -35 carry an ulp of 3.8e-6 and the two paths add in other orders
            // (measured up to 1.0e-5 apart): hold them to 1e-6 of the value, about 9 ulp
            assertEquals(expected, s[i], Math.max(1e-5, 1e-6 * Math.abs(expected)), "option " + i);
        }
        assertTrue(s[0] > s[2], "Lily is the likelier name after 'a little girl named'");
    }

    @Test
    void gpt2TokenizerMatchesEveryReferenceEncoding() throws Exception {
        Path dir = TestData.tokenizer("gpt2");
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Tokenizer tok = Tokenizer.load(dir)) {
            int n = 0;
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                int[] ids = tok.encode(text);
                assertArrayEquals(ints(c.get("ids")), ids, text);
                if (c.path("roundtrip").asBoolean(false)) {
                    assertEquals(text, tok.decode(ids, false));
                }
                n++;
            }
            assertTrue(n >= 5);
            // no silent truncation: far more than 512 tokens come back whole
            String longText = "word" + " word".repeat(2999);
            assertEquals(3000, tok.encode(longText).length);
            Tokenizer.Tokens t = tok.encodeWithOffsets("Hello world", false);
            assertArrayEquals(new int[] {0, 5}, t.offsets()[0]);
            assertArrayEquals(new int[] {5, 11}, t.offsets()[1]);
            assertEquals(50256, tok.tokenId("<|endoftext|>").getAsInt());
        }
    }

    @Test
    void chatTemplateRendersWithJinja(@TempDir Path dir) throws Exception {
        Files.copy(TestData.model("stories260k").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        String template = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}User: {{ m['content'] }}\n"
                + "{% elif m['role'] == 'assistant' %}Bot: {{ m['content'] }}{{ eos_token }}\n{% else %}"
                + "{{ raise_exception('unknown role ' + m['role']) }}{% endif %}{% endfor %}"
                + "{% if add_generation_prompt %}Bot:{% endif %}";
        Files.writeString(dir.resolve("tokenizer_config.json"), new ObjectMapper().writeValueAsString(
                Map.of("bos_token", "<s>", "eos_token", "</s>", "chat_template", template)));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertTrue(tok.hasChatTemplate());
            String s = tok.applyChatTemplate(List.of(Map.of("role", "user", "content", "Hi"),
                    Map.of("role", "assistant", "content", "Hello")), true);
            assertEquals("<s>User: Hi\nBot: Hello</s>\nBot:", s);
            BadInputException e = assertThrows(BadInputException.class,
                    () -> tok.applyChatTemplate(List.of(Map.of("role", "robot", "content", "x")), false));
            assertTrue(e.getMessage().contains("unknown role robot"), e.getMessage());
        }
    }

    @Test
    void tooLongPromptsAreRefusedNotTruncated() {
        int[] prompt = new int[600];
        Arrays.fill(prompt, 5);
        BadInputException e = assertThrows(BadInputException.class,
                () -> lm.generate(prompt, GenerationOptions.greedy(1), null));
        assertTrue(e.getMessage().contains("max_position_embeddings (512)"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> lm.generate(new int[] {1, 9999}, GenerationOptions.greedy(1),
                null));
        assertTrue(e.getMessage().contains("token id 9999 is outside the vocabulary"), e.getMessage());
    }
}
