package dev.glimpse.samples.cli;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.eval.ScienceQaContract;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.language.AdaptionPromptConfig;
import dev.glimpse.language.CausalLM;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.LoraConfig;
import dev.glimpse.training.AdapterTrainer;
import dev.glimpse.training.TrainingData;
import dev.glimpse.training.TrainingExample;
import dev.glimpse.training.TrainingOptions;
import dev.glimpse.training.TrainingRun;
import dev.glimpse.vision.FeatureCache;
import dev.glimpse.vision.VisionTower;
import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.Precision;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a projection adapter between a frozen vision tower and a frozen LLM.",
            "Data: a JSONL of {\"image\", \"prompt\", \"answer\"}, a LLaVA conversation JSON, or ScienceQA (a"
                    + " directory with problems.json and pid_splits.json, or a LLaVA question file)."},
        footer = {"", "Examples:",
            "  glimpse train --vision samples/demo-kit/mobilenet-v2-features --layer block_13_hidden_state "
                    + "--llm samples/demo-kit/stories260k --data data.jsonl --out runs/adapter --epochs 3",
            "  glimpse train --vision openai/clip-vit-large-patch14-336 --llm Qwen/Qwen2.5-0.5B-Instruct "
                    + "--data scienceqa/ --images scienceqa/images --out runs/sqa --time-limit 1h"})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--vision", required = true, description = "ONNX tower or CLIP/SigLIP checkpoint (dir or hub id).")
    String vision;

    @Option(names = "--llm", required = true, description = "Llama/Qwen2/Qwen3 checkpoint (dir or hub id).")
    String llm;

    @Option(names = "--data", required = true, description = "Training data file or ScienceQA directory.")
    Path data;

    @Option(names = "--images", description = "Image root for LLaVA/ScienceQA data (default: beside the data).")
    Path images;

    @Option(names = "--split", defaultValue = "train", description = "ScienceQA split (default ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--out", required = true, description = "Output directory (adapter, checkpoints, metrics).")
    Path out;

    @Option(names = "--projector", defaultValue = "mlp2x_gelu", description = "linear | mlp2x_gelu.")
    String projector;

    @Option(names = "--position-embedding", description = "A learned, zero-initialised position embedding per"
            + " image token (helps small LLMs with where and how many).")
    boolean positionEmbedding;

    @Option(names = "--gate", description = "Zero-initialised tanh gate on the image tokens.")
    boolean gate;

    @Option(names = "--layer", defaultValue = "-2", description = "Tower feature layer (default ${DEFAULT-VALUE}).")
    String layer;

    @Option(names = "--choices-as", defaultValue = "letters", description = "ScienceQA data: train and score each"
            + " choice as its letter (LLaVA's prompt) or as its option text: letters | options.")
    String choicesAs;

    @Option(names = "--lora-r", defaultValue = "0", description = "LoRA rank inside the frozen LLM (0: no LoRA).")
    int loraR;

    @Option(names = "--lora-alpha", description = "LoRA alpha (default: 2 x r).")
    Double loraAlpha;

    @Option(names = "--lora-targets", defaultValue = "q_proj,v_proj", description = "LoRA modules: q,k,v,o,gate,"
            + "up,down, attention, mlp or all-linear (default ${DEFAULT-VALUE}).")
    String loraTargets;

    @Option(names = "--lora-dropout", defaultValue = "0", description = "LoRA dropout during training.")
    double loraDropout;

    @Option(names = "--rslora", description = "rsLoRA scaling alpha/sqrt(r) instead of alpha/r.")
    boolean rslora;

    @Option(names = "--adaption-prompt", defaultValue = "0", description = "LLaMA-Adapter: learnable prompt tokens"
            + " per adapted layer, with a zero-initialised gate (0: none).")
    int adaptionPrompt;

    @Option(names = "--adapter-layers", defaultValue = "0", description = "Top layers that get adaption prompts"
            + " (default: all).")
    int adapterLayers;

    @Option(names = "--llm-lr", description = "Learning rate of the in-LLM adapters (default: --lr).")
    Double llmLr;

    @Option(names = "--no-eos", description = "Train no end-of-sequence token after each answer: for LLMs that"
            + " never learnt one (likelihood scoring does not need it).")
    boolean noEos;

    @Option(names = "--epochs", defaultValue = "1")
    int epochs;

    @Option(names = "--max-steps", defaultValue = "-1", description = "Stop after this many optimizer steps.")
    int maxSteps;

    @Option(names = "--time-limit", description = "Plan the steps to fit, e.g. 1h, 30m, 90s.")
    String timeLimit;

    @Option(names = "--batch-size", defaultValue = "8")
    int batchSize;

    @Option(names = "--grad-accum", defaultValue = "1")
    int gradAccum;

    @Option(names = "--lr", defaultValue = "1e-3")
    double lr;

    @Option(names = "--weight-decay", defaultValue = "0")
    double weightDecay;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    @Option(names = "--checkpoint-every", defaultValue = "100")
    int checkpointEvery;

    @Option(names = "--eval-every", defaultValue = "0", description = "Held-out loss every N steps (0: at the end).")
    int evalEvery;

    @Option(names = "--holdout", defaultValue = "0.05", description = "Fraction held out for evaluation.")
    double holdout;

    @Option(names = "--resume", description = "Continue from the checkpoint in --out.")
    boolean resume;

    @Option(names = "--json", description = "Print the final summary as JSON.")
    boolean json;

    @Option(names = "--device", description = "cpu or gpu (default: a GPU when libtorch sees one, else the CPU).")
    String device;

    @Option(names = "--dtype", description = "Compute type of the frozen LLM and activations: bf16, fp16 (with loss"
            + " scaling) or fp32; trained weights stay fp32. Default: bf16 on a GPU (fp16 where the JNI has no bf16),"
            + " fp32 on the CPU.")
    String dtype;

    @Option(names = "--activation-checkpointing", description = "Keep only each LLM layer's input and recompute the"
            + " layer in the backward: one more forward pass, a fraction of the activation memory (largest models).")
    boolean activationCheckpointing;

    @Option(names = "--no-tf32", description = "Exact fp32 products on the GPU (TF32 is on by default; also"
            + " GLIMPSE_TF32=false).")
    boolean noTf32;

    @Spec
    CommandSpec spec;

    static Duration parseDuration(String s) {
        Matcher m = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([hms])").matcher(s.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            try {
                return Duration.parse(s);
            } catch (RuntimeException e) {
                throw new BadInputException("--time-limit '" + s + "': expected e.g. 1h, 30m or 90s");
            }
        }
        double v = Double.parseDouble(m.group(1));
        long secs = (long) (v * switch (m.group(2)) {
            case "h" -> 3600;
            case "m" -> 60;
            default -> 1;
        });
        return Duration.ofSeconds(secs);
    }

    /**
     * The prompt contract of the data: LLaVA's for ScienceQA (letters or options), {@link PromptTemplate#RAW} (as
     * written) for the rest. Decided once per run: telling a LLaVA file's kind reads it whole.
     */
    PromptTemplate template() {
        if (!isScienceQa()) {
            return PromptTemplate.RAW;
        }
        return switch (choicesAs.toLowerCase(Locale.ROOT)) {
            case "letters" -> PromptTemplate.LLAVA;
            case "options" -> PromptTemplate.LLAVA.withScoring(PromptTemplate.Scoring.OPTIONS);
            default -> throw new BadInputException("--choices-as '" + choicesAs + "': expected letters or options");
        };
    }

    boolean isScienceQa() {
        if (Files.isDirectory(data)) {
            return true;
        }
        String name = data.getFileName().toString();
        if (name.endsWith(".jsonl")) {
            return false;
        }
        try {
            String head = Files.readString(data).stripLeading();
            return head.startsWith("[") && head.contains("\"conversations\"") && head.contains("\"gpt\"")
                    && name.contains("CQM");
        } catch (java.io.IOException e) {
            throw new BadInputException(data + ": cannot read: " + e.getMessage());
        }
    }

    /** The in-LLM adapter the flags ask for, or null. */
    LanguageAdapter llmAdapter(CausalLM lm) {
        LoraConfig lora = loraR > 0 ? new LoraConfig(loraR, loraAlpha != null ? loraAlpha : 2.0 * loraR, rslora,
                loraDropout, LoraConfig.parseTargets(loraTargets), List.of()) : null;
        AdaptionPromptConfig prompt = adaptionPrompt > 0 ? new AdaptionPromptConfig(adaptionPrompt,
                adapterLayers > 0 ? adapterLayers : lm.config().numHiddenLayers()) : null;
        return lora == null && prompt == null ? null : LanguageAdapter.create(lm.config(), lora, prompt, seed);
    }

    /** The examples, rendered by {@code t} (from {@link #template()}; RAW means the data is not ScienceQA). */
    List<TrainingExample> load(PromptTemplate t) {
        Path root = images != null ? images : (Files.isDirectory(data) ? data.resolve("images") : data.toAbsolutePath()
                .getParent());
        if (Files.isDirectory(data)) {
            Path problems = data.resolve("problems.json");
            Path splits = data.resolve("pid_splits.json");
            if (!Files.isRegularFile(problems) || !Files.isRegularFile(splits)) {
                throw new BadInputException(data + ": a ScienceQA directory needs problems.json and pid_splits.json");
            }
            return ScienceQaContract.examples(ScienceQaDataset.fromProblems(problems, splits, split), root, t);
        }
        String name = data.getFileName().toString();
        if (name.endsWith(".jsonl")) {
            return TrainingData.jsonl(data);
        }
        if (!t.equals(PromptTemplate.RAW)) {
            return ScienceQaContract.examples(ScienceQaDataset.fromLlavaQuestions(data), root, t);
        }
        return TrainingData.llavaConversations(data, root);
    }

    /** The device the flags ask for; a GPU asked for where libtorch sees none is an error, not a quiet CPU run. */
    Device device() {
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        return switch (d) {
            case "auto" -> GlimpseEngine.device();
            case "cpu" -> Device.cpu();
            case "gpu", "cuda" -> {
                if (GlimpseEngine.engine().getGpuCount() == 0) {
                    throw new BadInputException("--device gpu: libtorch sees no GPU (a CPU-only libtorch, or no CUDA"
                            + " driver; see docs/gpu.md)");
                }
                yield Device.gpu();
            }
            default -> throw new BadInputException("--device '" + device + "': expected cpu or gpu");
        };
    }

    /** The compute type for {@code dev}: the flag, else bf16/fp16 on a GPU and fp32 on the CPU. */
    DataType computeType(Device dev) {
        DataType t = dtype == null ? TrainingOptions.defaultDataType(dev) : Precision.parse(dtype, "--dtype");
        if (t == DataType.FLOAT16 && !dev.isGpu()) {
            throw new BadInputException("--dtype fp16 trains on a GPU only (loss-scaled fp16 is a GPU remedy; the CPU's"
                    + " fp16 kernels are slow): use --dtype fp32 on the CPU");
        }
        Precision.require(t, dev);
        return t;
    }

    /** The training options the flags ask for, computing in {@code compute}. */
    private TrainingOptions options(DataType compute) {
        TrainingOptions.Builder ob = TrainingOptions.builder().batchSize(batchSize).gradientAccumulation(gradAccum)
                .learningRate(lr).weightDecay(weightDecay).epochs(epochs).maxSteps(maxSteps).seed(seed)
                .checkpointEvery(checkpointEvery).evalEvery(evalEvery).endOfSequence(!noEos)
                .dataType(compute).activationCheckpointing(activationCheckpointing);
        if (llmLr != null) {
            ob.llmAdapterLearningRate(llmLr);
        }
        if (timeLimit != null) {
            ob.timeLimit(parseDuration(timeLimit));
        }
        return ob.build();
    }

    /** What --json prints: the run's parts, figures and files. */
    private Map<String, Object> summary(TrainingRun.Result run, Device dev, DataType compute, int examples, int held) {
        AdapterTrainer.Result r = run.training();
        Map<String, Object> summary = new LinkedHashMap<>();
        if (run.llmAdapter() != null) {
            summary.put("llm_adapter", out.resolve(AdapterTrainer.LLM_ADAPTER).toAbsolutePath().toString());
            summary.put("llm_adapter_parameters", run.llmAdapter().parameterCount());
        }
        summary.put("projector_parameters", run.projector().parameterCount());
        summary.put("device", dev.toString());
        summary.put("dtype", Precision.name(compute));
        summary.put("steps", r.steps());
        summary.put("planned_steps", r.plannedSteps());
        summary.put("samples_per_s", Math.round(r.samplesPerSecond() * 10) / 10.0);
        summary.put("final_loss", r.finalLoss());
        summary.put("seconds", Math.round(r.seconds() * 10) / 10.0);
        summary.put("stopped_by_time_limit", r.stoppedByTimeLimit());
        summary.put("examples", examples);
        summary.put("heldout", held);
        summary.put("adapter", out.resolve("adapter").toAbsolutePath().toString());
        summary.put("bundle", out.toAbsolutePath().toString());
        summary.put("metrics", r.metrics().toAbsolutePath().toString());
        summary.put("loss_curve", r.lossCurve().toAbsolutePath().toString());
        return summary;
    }

    @Override
    public Integer call() {
        if (noTf32) {
            System.setProperty("glimpse.tf32", "false"); // read when the engine starts, below
        }
        PrintWriter o = spec.commandLine().getOut();
        PromptTemplate template = template();
        List<TrainingExample> all = load(template);
        if (all.isEmpty()) {
            throw new BadInputException(data + ": no training examples");
        }
        int held = holdout > 0 ? Math.max(1, (int) Math.round(all.size() * holdout)) : 0;
        if (held >= all.size()) {
            held = 0;
        }
        List<TrainingExample> train = all.subList(0, all.size() - held);
        List<TrainingExample> heldOut = all.subList(all.size() - held, all.size());
        Device dev = device();
        DataType compute = computeType(dev);
        TrainingOptions opts = options(compute);
        Path llmDir = GlimpseCli.repository().resolve(llm);
        Path visionPath = GlimpseCli.repository().resolve(vision);
        TrainingRun.Result run;
        try (VisionTower tower = Towers.open(vision, layer, true);
             FeatureCache cache = FeatureCache.open(out.resolve("features"), tower, DType.F16);
             CausalLM lm = CausalLM.load(llmDir, GlimpseEngine.newManager(dev), compute)) {
            java.util.function.Function<String, float[]> features;
            try (CliProgress bar = new CliProgress("features", all.stream().flatMap(ex -> ex.imageKeys().stream())
                    .distinct().count(), "img")) {
                features = TrainingRun.cachedFeatures(cache, all, bar);
            }
            int steps = maxSteps > 0 ? maxSteps : epochs * Math.max(1, (train.size() + batchSize - 1) / batchSize
                    / gradAccum);
            try (CliProgress bar = new CliProgress("train", steps, "step")) {
                run = TrainingRun.builder(tower, lm).examples(train).heldOut(heldOut).features(features)
                        .template(template).projector(ProjectorType.parse(projector), gate, positionEmbedding)
                        .llmAdapter(llmAdapter(lm)).options(opts).out(out).resume(resume).progress(bar)
                        .bundle(out, visionPath.toAbsolutePath().toString(), llmDir.toAbsolutePath().toString(),
                                llmDir.getFileName().toString())
                        .run();
            }
        }
        Map<String, Object> summary = summary(run, dev, compute, train.size(), heldOut.size());
        if (json) {
            o.println(Json.write(summary));
        } else {
            AdapterTrainer.Result r = run.training();
            o.printf(Locale.ROOT, "trained %s steps (%.1f samples/s), final loss %.4f%s%n", summary.get("steps"),
                    r.samplesPerSecond(), r.finalLoss(), r.stoppedByTimeLimit() ? " (stopped by the time limit)" : "");
            o.println("adapter:    " + summary.get("adapter"));
            o.println("bundle:     " + summary.get("bundle") + "  (glimpse ask --model " + summary.get("bundle") + " ...)");
            o.println("metrics:    " + summary.get("metrics"));
            o.println("loss curve: " + summary.get("loss_curve"));
        }
        return 0;
    }
}
