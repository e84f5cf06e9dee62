package dev.glimpse.core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** generation_config.json: default decoding settings and stop tokens. Absent file → all defaults. */
public record GenerationConfig(List<Integer> eosTokenIds, Integer bosTokenId, Integer padTokenId, boolean doSample,
                               double temperature, int topK, double topP, Integer maxNewTokens) {

    public static GenerationConfig defaults() {
        return new GenerationConfig(List.of(), null, null, false, 1.0, 50, 1.0, null);
    }

    public static GenerationConfig read(Path dir) {
        Path file = dir.resolve("generation_config.json");
        if (!Files.isRegularFile(file)) {
            return defaults();
        }
        JsonFields f = JsonFields.read(file);
        return new GenerationConfig(f.intList("eos_token_id"), f.integerOrNull("bos_token_id"),
                f.integerOrNull("pad_token_id"), f.bool("do_sample", false), f.number("temperature", 1.0),
                f.integer("top_k", 50), f.number("top_p", 1.0), f.integerOrNull("max_new_tokens"));
    }
}
