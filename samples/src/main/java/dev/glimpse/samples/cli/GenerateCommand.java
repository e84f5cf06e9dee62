package dev.glimpse.samples.cli;

import dev.glimpse.core.BadInputException;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.LanguageModel;
import dev.glimpse.language.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt with a Llama/Qwen2/Qwen3 model, streaming the text as it is generated.",
        footer = {"", "Examples:",
            "  glimpse generate --model samples/demo-kit/stories260k --prompt \"Once upon a time\"",
            "  glimpse generate --model samples/demo-kit/stories260k --input-ids 1,403,407 --max-new-tokens 20 --json",
            "  glimpse generate --model Qwen/Qwen2.5-0.5B --prompt \"Hi\" --temperature 0.7 --top-p 0.9 --seed 1"})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory or hub id org/name[@rev].")
    String model;

    @picocli.CommandLine.Mixin
    EngineOptions engineOptions = new EngineOptions();

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptInput input;

    static final class PromptInput {
        @Option(names = "--prompt", description = "Prompt text (the tokenizer adds its special tokens, e.g. BOS).")
        String prompt;

        @Option(names = "--input-ids", split = ",", description = "Prompt token ids, comma-separated.")
        int[] inputIds;
    }

    @Option(names = "--lora", description = "A PEFT adapter directory (LoRA or adaption prompt) for this model;"
            + " LoRA is merged into the weights once.")
    Path lora;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Tokens to generate (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--greedy", description = "Pick the likeliest token each step (the default).")
    boolean greedy;

    @Option(names = "--temperature", description = "Sample with this temperature.")
    Double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k likeliest tokens when sampling (0: all).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (1.0: off).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed for sampling.")
    long seed;

    @Option(names = "--json", description = "Print {\"input_ids\",\"output_ids\",\"text\"} instead of streaming.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (greedy && temperature != null) {
            throw new BadInputException("--greedy and --temperature exclude each other");
        }
        Path dir = GlimpseCli.repository().resolve(model);
        GenerationOptions.Builder b = GenerationOptions.builder().maxNewTokens(maxNewTokens).seed(seed);
        if (temperature != null) {
            b.sample(temperature, topK, topP);
        }
        try (LanguageModel lm = engineOptions.runtime().open(dir, lora == null ? null : LanguageAdapter.load(lora),
                lora)) {
            return run(out, lm.tokenizer().orElse(null), b.build(), lm);
        }
    }

    private int run(PrintWriter out, Tokenizer tok, GenerationOptions options, LanguageModel lm) {
        if (input.inputIds == null && tok == null) {
            throw new BadInputException(model + " has no tokenizer.json: give --input-ids");
        }
        int[] ids = input.inputIds != null ? input.inputIds : tok.encode(input.prompt);
        List<Integer> generated = new ArrayList<>();
        String[] printed = {""};
        int[] outIds = lm.generate(ids, options, (t, logits, offset) -> {
            generated.add(t);
            if (!json && tok != null) {
                // decode the whole tail so multi-byte characters and spacing come out right
                String text = tok.decode(generated.stream().mapToInt(Integer::intValue).toArray());
                if (text.startsWith(printed[0])) {
                    out.print(text.substring(printed[0].length()));
                    out.flush();
                    printed[0] = text;
                }
            } else if (!json) {
                out.print(t + " ");
                out.flush();
            }
            return true;
        });
        String text = tok == null ? null : tok.decode(outIds);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("input_ids", ids);
            o.put("output_ids", outIds);
            o.put("text", text);
            out.println(Json.write(o));
        } else {
            if (text != null && !text.equals(printed[0]) && text.startsWith(printed[0])) {
                out.print(text.substring(printed[0].length()));
            }
            out.println();
        }
        return 0;
    }

    @Override
    public String toString() {
        return "generate " + model + " " + Arrays.toString(input.inputIds);
    }
}
