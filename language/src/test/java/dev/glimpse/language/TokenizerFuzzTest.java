package dev.glimpse.language;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.glimpse.core.Fuzzing;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Tokenizer files, chat templates and PEFT adapter files from outside: loaded and used, or refused with a
 * BadInputException; never a native crash (tokenizer.json is parsed by Hugging Face's Rust library).
 */
class TokenizerFuzzTest {
    static final Path DIR = Fuzzing.scratch("language");

    /** tokenizer.json (with a fixed tokenizer_config.json): load, encode, decode. */
    @FuzzTest(maxDuration = "60s")
    void tokenizerJson(byte[] json) {
        Path dir = DIR.resolve("tok");
        dir.toFile().mkdirs();
        Fuzzing.write(dir, "tokenizer.json", json);
        Fuzzing.onlyBadInput(() -> {
            try (Tokenizer t = Tokenizer.load(dir)) {
                int[] ids = t.encode("Once upon a time, a 🐈 said héllo <image>");
                t.decode(ids);
                t.decode(new int[] {0, 1, 2, 100000}, false);
            }
        });
    }

    /** A chat_template in tokenizer_config.json, rendered for a two-turn chat. */
    @FuzzTest(maxDuration = "60s")
    void chatTemplate(byte[] template) {
        Path dir = DIR.resolve("chat");
        dir.toFile().mkdirs();
        if (!dir.resolve("tokenizer.json").toFile().exists()) {
            Fuzzing.write(dir, "tokenizer.json", Fuzzing.read(dev.glimpse.core.TestData.model("stories260k")
                    .resolve("tokenizer.json")));
        }
        String config = "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"chat_template\":"
                + com.fasterxml.jackson.databind.node.TextNode.valueOf(new String(template, StandardCharsets.UTF_8))
                + "}";
        Fuzzing.write(dir, "tokenizer_config.json", config.getBytes(StandardCharsets.UTF_8));
        Fuzzing.onlyBadInput(() -> {
            try (Tokenizer t = Tokenizer.load(dir)) {
                t.applyChatTemplate(List.of(Map.of("role", "system", "content", "Be brief."),
                        Map.of("role", "user", "content", "<image>\nWhat is it?")), true);
            }
        });
    }

    /** A PEFT adapter directory: adapter_config.json, then (after the first NUL byte) adapter_model.safetensors. */
    @FuzzTest(maxDuration = "60s")
    void peftAdapter(byte[] input) {
        byte[][] parts = Fuzzing.splitAtNul(input);
        Path dir = DIR.resolve("peft");
        dir.toFile().mkdirs();
        Fuzzing.write(dir, "adapter_config.json", parts[0]);
        Fuzzing.write(dir, "adapter_model.safetensors", parts[1]);
        Fuzzing.onlyBadInput(() -> LanguageAdapter.load(dir));
    }
}
