package dev.glimpse.fusion;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Fuzzing;
import dev.glimpse.core.ModelRepository;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Bundles, projector files and prompt templates from outside: used, or refused with a BadInputException. */
class BundleFuzzTest {
    static final Path DIR = Fuzzing.scratch("fusion");
    static final ObjectMapper JSON = new ObjectMapper();

    /** bundle.json (its references lead nowhere loadable: the fuzzed part is the bundle's own fields). */
    @FuzzTest(maxDuration = "60s")
    void bundleJson(byte[] json) {
        Path dir = DIR.resolve("bundle");
        dir.toFile().mkdirs();
        Fuzzing.write(dir, Bundle.FILE, json);
        Fuzzing.onlyBadInput(() -> VisionLanguageModel.builder().model(dir.toString()).repository(
                ModelRepository.builder().cacheDir(DIR.resolve("cache")).offline(true).build()).build().close());
    }

    /** A projector: projector_config.json, then (after the first NUL byte) its safetensors weights. */
    @FuzzTest(maxDuration = "60s")
    void projector(byte[] input) {
        byte[][] parts = Fuzzing.splitAtNul(input);
        Path dir = DIR.resolve("projector");
        dir.toFile().mkdirs();
        Fuzzing.write(dir, "projector_config.json", parts[0]);
        Fuzzing.write(dir, Adapter.WEIGHTS, parts[1]);
        Fuzzing.onlyBadInput(() -> Adapter.load(dir));
    }

    /** A prompt template as bundles record it, then rendered for a question with choices. */
    @FuzzTest(maxDuration = "60s")
    void promptTemplate(byte[] json) {
        Fuzzing.onlyBadInput(() -> {
            JsonNode n;
            try {
                n = JSON.readTree(json);
            } catch (IOException e) {
                throw new BadInputException("not JSON: " + e.getMessage());
            }
            if (n == null || !n.isObject()) {
                throw new BadInputException("not a JSON object");
            }
            PromptTemplate t = PromptTemplate.read(n, "fuzz");
            t.render(new Question(List.of(), "What color is the ball?", List.of("red", "blue"), "a hint"));
            t.continuations(List.of("red", "blue"));
        });
    }
}
