package dev.glimpse.samples.cli;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.fusion.LlavaExport;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Export a bundle as a Hugging Face LlavaForConditionalGeneration checkpoint (transformers, vLLM,"
                + " SGLang, TGI load it): LoRA merged, a projector gate folded, the <image> token added; or, with"
                + " --format peft, the LLM adapter as PEFT directories and the projector as mm_projector.safetensors."},
        footer = {"", "Example:",
            "  glimpse export --model runs/sqa --out exports/sqa-llava --dtype bf16 --max-shard 2GB"})
final class ExportCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "The bundle directory (or hub id).")
    String model;

    @Option(names = "--out", required = true, description = "A new or empty folder for the checkpoint.")
    Path out;

    @Option(names = "--format", defaultValue = "hf-llava", description = "hf-llava (default) or peft.")
    String format;

    @Option(names = "--dtype", description = "Stored type: fp32, fp16 or bf16 (default: each tensor's own).")
    String dtype;

    @Option(names = "--max-shard", defaultValue = "5GB",
            description = "Largest safetensors shard, e.g. 5GB, 500MB (default ${DEFAULT-VALUE}).")
    String maxShard;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Path bundle = GlimpseCli.repository().resolve(model);
        LlavaExport.Format f = LlavaExport.Format.parse(format);
        Path done = LlavaExport.export(bundle, GlimpseCli.repository(), out, new LlavaExport.Options(dtype(),
                bytes(maxShard)), f);
        spec.commandLine().getOut().println("exported " + bundle + (f == LlavaExport.Format.PEFT ? " as PEFT adapters: "
                : " as a LLaVA checkpoint: ") + done);
        return 0;
    }

    private DType dtype() {
        if (dtype == null) {
            return null;
        }
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "fp32", "float32" -> DType.F32;
            case "fp16", "float16" -> DType.F16;
            case "bf16", "bfloat16" -> DType.BF16;
            default -> throw new BadInputException("--dtype '" + dtype + "': expected fp32, fp16 or bf16");
        };
    }

    /** "5GB", "500MB", "64KB" or plain bytes (decimal units, as transformers' max_shard_size). */
    static long bytes(String size) {
        String s = size.strip().toUpperCase(Locale.ROOT);
        long unit = s.endsWith("GB") ? 1_000_000_000L : s.endsWith("MB") ? 1_000_000L : s.endsWith("KB") ? 1_000L : 1;
        String digits = unit == 1 ? s : s.substring(0, s.length() - 2).strip();
        try {
            long n = Math.multiplyExact(Long.parseLong(digits), unit);
            if (n <= 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new BadInputException("--max-shard '" + size + "': expected a size such as 5GB, 500MB or 1000000");
        }
    }
}
