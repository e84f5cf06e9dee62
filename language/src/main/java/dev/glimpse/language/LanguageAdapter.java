package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.Parameters;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Trainable weights inside the frozen LLM: LoRA on linear layers and/or LLaMA-Adapter adaption prompts. The base
 * weights never change (except by an explicit {@link CausalLM#attach merge}).
 *
 * <p>Parameters are named as PEFT names them, relative to the causal LM ({@code
 * model.layers.3.self_attn.q_proj.lora_A.weight}, {@code model.layers.7.self_attn.adaption_prompt}); on disk each
 * kind is a PEFT adapter directory ({@code adapter_config.json} + {@code adapter_model.safetensors}, keys under
 * {@code base_model.model.}), so PEFT loads what Glimpse trains and Glimpse loads what PEFT trains.
 *
 * <p>Parameter arrays are live (trainers update them in place): do not share an adapter that is being trained.
 */
public final class LanguageAdapter {
    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";
    static final String PEFT_PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LORA_KEY = Pattern.compile(
            "model\\.layers\\.(\\d+)\\.(self_attn|mlp)\\.(\\w+)\\.lora_([AB])(?:\\.default)?\\.weight");
    private static final Pattern WEIGHT_KEY = Pattern.compile("layers\\.(\\d+)\\.(self_attn|mlp)\\.(\\w+)\\.weight");
    private static final Pattern PROMPT_KEY = Pattern.compile(
            "model\\.layers\\.(\\d+)\\.self_attn\\.adaption_(prompt|gate)");

    private final LoraConfig lora;
    private final AdaptionPromptConfig prompt;
    private final Parameters params;

    private LanguageAdapter(LoraConfig lora, AdaptionPromptConfig prompt, Parameters params) {
        this.lora = lora;
        this.prompt = prompt;
        this.params = params;
    }

    /** PEFT names the LLM's tensors as the checkpoint does, under {@code model.}. */
    static String module(int layer, String name) {
        return LlamaTensors.linear("model.", layer, name);
    }

    static String promptKey(int layer) {
        return LlamaTensors.adaption("model.", layer, "prompt");
    }

    static String gateKey(int layer) {
        return LlamaTensors.adaption("model.", layer, "gate");
    }

    /** [out, in] of a linear module of the model. */
    static long[] linearShape(LanguageModelConfig c, String name) {
        long h = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long i = c.intermediateSize();
        return switch (name) {
            case "q_proj" -> new long[] {q, h};
            case "k_proj", "v_proj" -> new long[] {kv, h};
            case "o_proj" -> new long[] {h, q};
            case "gate_proj", "up_proj" -> new long[] {i, h};
            case "down_proj" -> new long[] {h, i};
            default -> throw new BadInputException("unknown linear module '" + name + "'");
        };
    }

    /**
     * Fresh adapters for {@code c}, seeded. LoRA follows PEFT's default initialisation (A uniform ±1/√in as
     * kaiming_uniform(a=√5) gives, B zero); adaption prompts are standard normal (as PEFT and the LLaMA-Adapter
     * code) with gates at zero. Either config may be null, not both.
     */
    public static LanguageAdapter create(LanguageModelConfig c, LoraConfig lora, AdaptionPromptConfig prompt,
                                         long seed) {
        if (lora == null && prompt == null) {
            throw new BadInputException("an LLM adapter needs LoRA, an adaption prompt, or both");
        }
        if (prompt != null && prompt.layers() > c.numHiddenLayers()) {
            throw new BadInputException("adaption prompt on " + prompt.layers() + " layers but the LLM has "
                    + c.numHiddenLayers());
        }
        Random r = new Random(seed);
        Parameters p = new Parameters();
        for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
            if (lora != null && lora.adapts(layer)) {
                for (String t : LoraConfig.ALL_LINEAR) {
                    if (!lora.targets().contains(t)) {
                        continue;
                    }
                    long[] w = linearShape(c, t);
                    float[] a = new float[(int) (lora.r() * w[1])];
                    double bound = 1 / Math.sqrt(w[1]);
                    for (int i = 0; i < a.length; i++) {
                        a[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
                    }
                    p.put(module(layer, t) + ".lora_A.weight", new long[] {lora.r(), w[1]}, a);
                    p.put(module(layer, t) + ".lora_B.weight", new long[] {w[0], lora.r()},
                            new float[(int) (w[0] * lora.r())]);
                }
            }
            if (prompt != null && prompt.adapts(layer, c.numHiddenLayers())) {
                float[] e = new float[prompt.length() * c.hiddenSize()];
                for (int i = 0; i < e.length; i++) {
                    e[i] = (float) r.nextGaussian();
                }
                p.put(promptKey(layer), new long[] {1, prompt.length(), c.hiddenSize()}, e);
                p.put(gateKey(layer), new long[] {1}, new float[1]);
            }
        }
        return new LanguageAdapter(lora, prompt, p);
    }

    /**
     * The LoRA's weight delta scaling·B·A [out, in] for the checkpoint weight {@code key} of an LLM whose decoder
     * sits under {@code prefix} (e.g. {@code model.layers.3.self_attn.q_proj.weight}), or null when the LoRA does not
     * adapt it: what merging adds, computed one weight at a time in fp32 (as PEFT's merge), so an export never holds
     * more than one delta.
     */
    public float[] loraDelta(String prefix, String key) {
        if (lora == null || !key.startsWith(prefix) || !key.endsWith(".weight")) {
            return null;
        }
        Matcher m = WEIGHT_KEY.matcher(key.substring(prefix.length()));
        if (!m.matches()) {
            return null;
        }
        String module = module(Integer.parseInt(m.group(1)), m.group(3));
        if (!params.contains(module + ".lora_A.weight")) {
            return null;
        }
        long[] as = params.shape(module + ".lora_A.weight");
        long[] bs = params.shape(module + ".lora_B.weight");
        float[] a = params.values().get(module + ".lora_A.weight");
        float[] b = params.values().get(module + ".lora_B.weight");
        int r = (int) as[0];
        int in = (int) as[1];
        int out = (int) bs[0];
        float[] d = new float[out * in];
        for (int o = 0; o < out; o++) {
            for (int k = 0; k < r; k++) {
                float bk = b[o * r + k];
                for (int i = 0; i < in; i++) {
                    d[o * in + i] += bk * a[k * in + i];
                }
            }
        }
        float scaling = (float) lora.scaling(); // B·A, then scaled, as CausalLM's merge
        for (int i = 0; i < d.length; i++) {
            d[i] *= scaling;
        }
        return d;
    }

    public Optional<LoraConfig> lora() {
        return Optional.ofNullable(lora);
    }

    public Optional<AdaptionPromptConfig> adaptionPrompt() {
        return Optional.ofNullable(prompt);
    }

    /** Parameter name (PEFT's, without base_model.model.) → values and shapes; the arrays are live. */
    public Parameters parameters() {
        return params;
    }

    public long parameterCount() {
        return params.count();
    }

    /** A deep copy. */
    public LanguageAdapter copy() {
        return new LanguageAdapter(lora, prompt, params.copy());
    }

    /** This adapter without its LoRA part (after the LoRA was merged into the weights), or null if nothing is left. */
    LanguageAdapter promptOnly() {
        if (prompt == null) {
            return null;
        }
        Parameters p = new Parameters();
        params.values().forEach((k, v) -> {
            if (k.contains(".adaption_")) {
                p.put(k, params.shape(k), v);
            }
        });
        return new LanguageAdapter(null, prompt, p);
    }

    /** Refuses a model these adapters do not fit, naming the tensor and both shapes. */
    public void checkCompatible(LanguageModelConfig c) {
        for (String k : params.values().keySet()) {
            long[] got = params.shape(k);
            long[] want;
            Matcher m = LORA_KEY.matcher(k);
            Matcher pm = PROMPT_KEY.matcher(k);
            int layer;
            if (m.matches()) {
                layer = Integer.parseInt(m.group(1));
                long[] w = linearShape(c, m.group(3));
                want = m.group(4).equals("A") ? new long[] {lora.r(), w[1]} : new long[] {w[0], lora.r()};
            } else if (pm.matches()) {
                layer = Integer.parseInt(pm.group(1));
                want = pm.group(2).equals("prompt") ? new long[] {1, prompt.length(), c.hiddenSize()}
                        : new long[] {1};
            } else {
                throw new IllegalStateException(k);
            }
            if (layer >= c.numHiddenLayers() || !java.util.Arrays.equals(got, want)) {
                throw new BadInputException("LLM adapter tensor '" + k + "' has shape " + java.util.Arrays.toString(got)
                        + " but the LLM (" + c.modelType() + ", " + c.numHiddenLayers() + " layers, hidden "
                        + c.hiddenSize() + ") needs " + (layer >= c.numHiddenLayers() ? "no such layer"
                        : java.util.Arrays.toString(want)) + ": the adapter was trained for another model");
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- PEFT files

    /**
     * Writes each kind as a PEFT adapter directory: {@code dir/lora} and {@code dir/adaption_prompt} (weights first,
     * then the config, each atomically).
     */
    public void save(Path dir, String baseModel) {
        if (lora != null) {
            savePeft(dir.resolve("lora"), "LORA", baseModel);
        }
        if (prompt != null) {
            savePeft(dir.resolve("adaption_prompt"), "ADAPTION_PROMPT", baseModel);
        }
    }

    private void savePeft(Path dir, String kind, String baseModel) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new GlimpseException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        boolean isLora = kind.equals("LORA");
        SafetensorsWriter w = new SafetensorsWriter().withChecksum().metadata("format", "pt");
        params.values().forEach((k, v) -> {
            if (isLora == k.contains(".lora_")) {
                w.add(PEFT_PREFIX + k, DType.F32, params.shape(k), v);
            }
        });
        w.write(dir.resolve(WEIGHTS));
        ObjectNode n = JSON.createObjectNode();
        n.put("peft_type", kind);
        n.put("task_type", "CAUSAL_LM");
        n.put("base_model_name_or_path", baseModel);
        n.put("inference_mode", true);
        n.putNull("revision");
        if (isLora) {
            n.put("r", lora.r());
            n.put("lora_alpha", lora.alpha());
            n.put("lora_dropout", lora.dropout());
            n.put("use_rslora", lora.rslora());
            ArrayNode t = n.putArray("target_modules");
            lora.targets().forEach(t::add);
            if (lora.layers().isEmpty()) {
                n.putNull("layers_to_transform");
            } else {
                ArrayNode l = n.putArray("layers_to_transform");
                lora.layers().forEach(l::add);
            }
            n.putNull("layers_pattern");
            n.put("bias", "none");
            n.put("fan_in_fan_out", false);
            n.put("use_dora", false);
            n.putNull("modules_to_save");
            n.putObject("rank_pattern");
            n.putObject("alpha_pattern");
            n.put("init_lora_weights", true);
        } else {
            n.put("target_modules", "self_attn");
            n.put("adapter_len", prompt.length());
            n.put("adapter_layers", prompt.layers());
        }
        try {
            AtomicFile.writeString(dir.resolve(CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n));
        } catch (IOException e) {
            throw new GlimpseException("cannot write " + dir.resolve(CONFIG) + ": " + e.getMessage(), e);
        }
    }

    /** Whether {@code dir} holds LLM adapters: a PEFT adapter directory, or {@code lora/} / {@code adaption_prompt/}. */
    public static boolean existsIn(Path dir) {
        return isPeft(dir) || isPeft(dir.resolve("lora")) || isPeft(dir.resolve("adaption_prompt"));
    }

    private static boolean isPeft(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG)) && Files.isRegularFile(dir.resolve(WEIGHTS));
    }

    /**
     * Loads a PEFT adapter directory (LoRA or adaption prompt), or a directory holding {@code lora/} and/or {@code
     * adaption_prompt/} as {@link #save} writes them. PEFT options Glimpse does not implement are refused by name.
     */
    public static LanguageAdapter load(Path dir) {
        if (Files.isRegularFile(dir.resolve(CONFIG))) {
            return loadPeft(dir);
        }
        LanguageAdapter a = isPeft(dir.resolve("lora")) ? loadPeft(dir.resolve("lora")) : null;
        LanguageAdapter b = isPeft(dir.resolve("adaption_prompt")) ? loadPeft(dir.resolve("adaption_prompt")) : null;
        if (a == null && b == null) {
            throw new BadInputException(dir + ": no " + CONFIG + " (not a PEFT adapter directory) and no lora/ or"
                    + " adaption_prompt/ inside");
        }
        if (a == null || b == null) {
            return a != null ? a : b;
        }
        Parameters p = a.params.copy();
        b.params.values().forEach((k, v) -> p.put(k, b.params.shape(k), v));
        return new LanguageAdapter(a.lora, b.prompt, p);
    }

    private static LanguageAdapter loadPeft(Path dir) {
        Path cf = dir.resolve(CONFIG);
        JsonNode n;
        try {
            n = JSON.readTree(cf.toFile());
        } catch (IOException e) {
            throw new BadInputException(cf + ": not valid JSON: " + e.getMessage(), e);
        }
        String type = n.path("peft_type").asText("");
        Path wf = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(wf)) {
            throw new BadInputException(dir + ": " + CONFIG + " without " + WEIGHTS
                    + (Files.isRegularFile(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin found: re-save it with safe_serialization=True)" : ""));
        }
        return switch (type) {
            case "LORA" -> loadLora(n, cf, wf);
            case "ADAPTION_PROMPT" -> loadPrompt(n, cf, wf);
            case "" -> throw new BadInputException(cf + ": field 'peft_type' is missing (is this a Glimpse projector"
                    + " config? those are read by the fusion module)");
            default -> throw new BadInputException(cf + ": peft_type '" + type + "' is not supported (Glimpse reads"
                    + " LORA and ADAPTION_PROMPT)");
        };
    }

    private static void refuse(Path cf, boolean cond, String what) {
        if (cond) {
            throw new BadInputException(cf + ": " + what + " is not supported by Glimpse (refused rather than"
                    + " silently ignored)");
        }
    }

    private static boolean nonEmpty(JsonNode n) {
        return n != null && !n.isNull() && !n.isMissingNode() && (!n.isContainerNode() || n.size() > 0)
                && !(n.isTextual() && n.asText().isEmpty());
    }

    private static LanguageAdapter loadLora(JsonNode n, Path cf, Path wf) {
        refuse(cf, n.path("use_dora").asBoolean(false), "use_dora (DoRA)");
        refuse(cf, n.path("fan_in_fan_out").asBoolean(false), "fan_in_fan_out");
        refuse(cf, !n.path("bias").asText("none").equals("none"), "bias '" + n.path("bias").asText() + "'");
        refuse(cf, n.path("lora_bias").asBoolean(false), "lora_bias");
        refuse(cf, nonEmpty(n.get("modules_to_save")), "modules_to_save " + n.get("modules_to_save"));
        refuse(cf, nonEmpty(n.get("rank_pattern")), "rank_pattern");
        refuse(cf, nonEmpty(n.get("alpha_pattern")), "alpha_pattern");
        refuse(cf, nonEmpty(n.get("target_parameters")), "target_parameters");
        refuse(cf, n.path("use_qalora").asBoolean(false), "use_qalora");
        if (!n.hasNonNull("r") || !n.hasNonNull("lora_alpha")) {
            throw new BadInputException(cf + ": fields 'r' and 'lora_alpha' are required");
        }
        int r = n.get("r").asInt();
        Parameters p = new Parameters();
        TreeSet<Integer> layers = new TreeSet<>();
        List<String> targets = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(wf)) {
            f.verify();
            for (String key : f.tensors().stream().map(dev.glimpse.core.TensorInfo::name).toList()) {
                String k = key.startsWith(PEFT_PREFIX) ? key.substring(PEFT_PREFIX.length()) : key;
                Matcher m = LORA_KEY.matcher(k);
                if (!m.matches() || !LoraConfig.ALL_LINEAR.contains(m.group(3))) {
                    throw new BadInputException(wf + ": tensor '" + key + "' is not a LoRA weight of a Llama-family"
                            + " linear layer (expected base_model.model.model.layers.N.self_attn|mlp.<proj>.lora_A|"
                            + "lora_B.weight)");
                }
                int layer = Integer.parseInt(m.group(1));
                String name = module(layer, m.group(3)) + ".lora_" + m.group(4) + ".weight";
                long[] shape = f.info(key).shape();
                if (shape.length != 2 || (m.group(4).equals("A") ? shape[0] : shape[1]) != r) {
                    throw new BadInputException(wf + ": tensor '" + key + "' has shape "
                            + java.util.Arrays.toString(shape) + " but r is " + r);
                }
                p.put(name, shape, f.toFloats(key));
                layers.add(layer);
                if (!targets.contains(m.group(3))) {
                    targets.add(m.group(3));
                }
            }
        }
        if (p.values().isEmpty()) {
            throw new BadInputException(wf + ": no LoRA tensors");
        }
        for (String k : p.values().keySet()) {
            String other = k.endsWith("lora_A.weight") ? k.replace("lora_A.weight", "lora_B.weight")
                    : k.replace("lora_B.weight", "lora_A.weight");
            if (!p.contains(other)) {
                throw new BadInputException(wf + ": '" + PEFT_PREFIX + k + "' has no matching '" + PEFT_PREFIX + other
                        + "'");
            }
        }
        // the tensors say which modules are adapted (PEFT's target_modules may be a regex); the config gives scaling
        LoraConfig c = new LoraConfig(r, n.get("lora_alpha").asDouble(), n.path("use_rslora").asBoolean(false),
                n.path("lora_dropout").asDouble(0), LoraConfig.ALL_LINEAR.stream().filter(targets::contains).toList(),
                new ArrayList<>(layers));
        return new LanguageAdapter(c, null, p);
    }

    private static LanguageAdapter loadPrompt(JsonNode n, Path cf, Path wf) {
        refuse(cf, !n.path("target_modules").asText("self_attn").equals("self_attn"),
                "target_modules '" + n.path("target_modules").asText() + "'");
        if (!n.hasNonNull("adapter_len") || !n.hasNonNull("adapter_layers")) {
            throw new BadInputException(cf + ": fields 'adapter_len' and 'adapter_layers' are required");
        }
        AdaptionPromptConfig c = new AdaptionPromptConfig(n.get("adapter_len").asInt(),
                n.get("adapter_layers").asInt());
        Parameters p = new Parameters();
        try (SafetensorsFile f = SafetensorsFile.open(wf)) {
            f.verify();
            for (String key : f.tensors().stream().map(dev.glimpse.core.TensorInfo::name).toList()) {
                String k = key.startsWith(PEFT_PREFIX) ? key.substring(PEFT_PREFIX.length()) : key;
                if (!PROMPT_KEY.matcher(k).matches()) {
                    throw new BadInputException(wf + ": tensor '" + key + "' is not an adaption prompt or gate"
                            + " (expected base_model.model.model.layers.N.self_attn.adaption_prompt|adaption_gate)");
                }
                p.put(k, f.info(key).shape(), f.toFloats(key));
            }
        }
        if (p.values().size() != 2 * c.layers()) {
            throw new BadInputException(wf + ": " + p.values().size() + " tensors, expected a prompt and a gate for each of "
                    + c.layers() + " layers");
        }
        return new LanguageAdapter(null, c, p);
    }

    // ---------------------------------------------------------------------------------------------- runtime

    /**
     * The parameters as arrays in {@code m} of {@code type}; with {@code requiresGradient} they are autograd leaves
     * of that type (working copies of the fp32 values, which stay the master weights).
     */
    public Weights bind(NDManager m, DataType type, boolean requiresGradient) {
        return new Weights(this, params.toNDArrays(m, type, requiresGradient), null, null);
    }

    /**
     * Adapter arrays for one forward pass. {@code visual} [B, H] (LLaMA-Adapter's multimodal variant) is added to
     * every adaption prompt token of row b; {@code dropoutSeed} (training only) seeds the engine's generator for
     * LoRA's dropout masks at the start of the pass, so a step draws the same masks when it runs again.
     */
    public record Weights(LanguageAdapter adapter, Map<String, NDArray> arrays, NDArray visual, Integer dropoutSeed) {
        /** Adds a per-row global image feature [B, H] to the adaption prompts. */
        public Weights withVisual(NDArray v) {
            return new Weights(adapter, arrays, v, dropoutSeed);
        }

        /** Applies LoRA dropout (training) with masks drawn from {@code seed}. */
        public Weights withDropout(long seed) {
            return new Weights(adapter, arrays, visual, Long.hashCode(seed));
        }

        NDArray loraA(int layer, String name) {
            return adapter.lora == null ? null : arrays.get(module(layer, name) + ".lora_A.weight");
        }

        NDArray loraB(int layer, String name) {
            return arrays.get(module(layer, name) + ".lora_B.weight");
        }

        NDArray prompt(int layer) {
            return adapter.prompt == null ? null : arrays.get(promptKey(layer));
        }

        NDArray gate(int layer) {
            return arrays.get(gateKey(layer));
        }
    }
}
