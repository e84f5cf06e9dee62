package dev.glimpse.fusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.ModelRepository;
import dev.glimpse.core.SafetensorsStream;
import dev.glimpse.core.TensorInfo;
import dev.glimpse.core.TokenizerConfig;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.RuntimeOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A Glimpse bundle as a Hugging Face {@code LlavaForConditionalGeneration} checkpoint, for the Python serving stack:
 * config.json (the tower's vision_config, the LLM's text_config, the image token and feature selection), sharded
 * safetensors under the names transformers 5 writes ({@code vision_tower.*}, {@code multi_modal_projector.*},
 * {@code language_model.model.*}), the tokenizer with {@code <image>} added and the embeddings (and an untied LM
 * head) grown by one row, the preprocessor, processor and generation configs. A LoRA is merged into the LLM's
 * weights and a projector gate folded into linear_2, both exactly as the bundle computes them. What LLaVA cannot
 * express — an ONNX-only tower, a linear projector, a per-token position embedding, LLaMA-Adapter prompts — is
 * refused with one line naming the part.
 *
 * <p>The export is written into a temporary folder beside {@code out} and moved into place whole: a half-written
 * export never looks complete. Tensors are streamed one at a time (a 7B export holds one tensor, not the model).
 */
public final class LlavaExport {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The chat template file transformers 5 reads for the tokenizer and the processor. */
    static final String CHAT_TEMPLATE = "chat_template.jinja";
    /**
     * The prompt contract of the exported bundle (its {@link PromptTemplate}), which transformers ignores and Glimpse
     * reads back, so that questions asked of the export are the ones its adapter was trained on.
     */
    public static final String PROMPT_FILE = "glimpse_prompt.json";

    /** The stored type (null: each tensor's own) and the largest shard in bytes. */
    public record Options(DType dtype, long maxShardBytes) {
        public static Options defaults() {
            return new Options(null, 5_000_000_000L);
        }
    }

    private final Path bundleDir;
    private final Bundle bundle;
    private final Path towerDir;
    private final Path llmDir;
    private final Adapter adapter;
    private final LanguageAdapter lora;
    private final Options options;

    private LlavaExport(Path bundleDir, ModelRepository repository, Options options) {
        this.bundleDir = bundleDir;
        ModelLoader loader = new ModelLoader(repository, RuntimeOptions.defaults());
        this.bundle = Bundle.read(bundleDir);
        this.towerDir = loader.resolve(bundleDir, bundle.vision());
        this.llmDir = loader.resolve(bundleDir, bundle.llm());
        this.adapter = Adapter.load(loader.resolve(bundleDir, bundle.adapter()));
        this.lora = bundle.llmAdapter() == null ? null
                : LanguageAdapter.load(loader.resolve(bundleDir, bundle.llmAdapter()));
        this.options = options;
    }

    /** What to write. */
    public enum Format {
        /** A whole LlavaForConditionalGeneration checkpoint. */
        HF_LLAVA,
        /**
         * The trained parts beside an unchanged base model: the LLM adapter as PEFT directories ({@code lora/},
         * {@code adaption_prompt/}) and the projector as LLaVA's {@code mm_projector.safetensors} (the original
         * repository's names, {@code model.mm_projector.0|2.*}, a gate folded) with {@code projector_config.json},
         * and a {@code bundle.json} over the same tower and base LLM, so Glimpse loads the folder as a model.
         */
        PEFT;

        /** hf-llava or peft (any case). */
        public static Format parse(String s) {
            return switch (s.strip().toLowerCase(java.util.Locale.ROOT)) {
                case "hf-llava", "llava" -> HF_LLAVA;
                case "peft" -> PEFT;
                default -> throw new BadInputException("export format '" + s + "': expected hf-llava or peft");
            };
        }
    }

    /** Exports the bundle in {@code bundleDir} into {@code out} (absent or empty) as a LLaVA checkpoint. */
    public static Path export(Path bundleDir, ModelRepository repository, Path out, Options options) {
        return export(bundleDir, repository, out, options, Format.HF_LLAVA);
    }

    /** Exports the bundle in {@code bundleDir} into {@code out} (absent or empty) in {@code format}. */
    public static Path export(Path bundleDir, ModelRepository repository, Path out, Options options, Format format) {
        LlavaExport e = new LlavaExport(bundleDir, repository, options);
        if (format == Format.HF_LLAVA) {
            e.checkExpressible();
        } else {
            e.checkProjector();
        }
        checkTarget(out);
        Path work;
        try {
            Path parent = out.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            work = Files.createTempDirectory(parent, "." + out.getFileName() + ".exporting-");
        } catch (IOException ex) {
            throw new GlimpseException("cannot create the export next to " + out + ": " + ex.getMessage(), ex);
        }
        try {
            if (format == Format.HF_LLAVA) {
                e.writeInto(work);
            } else {
                e.writePeft(work);
            }
            if (Files.exists(out)) {
                Files.delete(out); // empty, checked above
            }
            Files.move(work, out, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (IOException ex) {
            AtomicFile.deleteTree(work);
            throw new BadInputException("cannot write the export " + out + ": " + ex.getMessage()
                    + " (nothing was left behind)", ex);
        } catch (RuntimeException ex) {
            AtomicFile.deleteTree(work);
            throw ex;
        }
    }

    /**
     * The prompt template of a LLaVA checkpoint: the one a Glimpse export recorded, else llava-hf's
     * "USER: … ASSISTANT:" form of LLaVA-1.5's ScienceQA prompt.
     */
    static PromptTemplate promptOf(Path dir) {
        Path f = dir.resolve(PROMPT_FILE);
        if (!Files.isRegularFile(f)) {
            return new PromptTemplate("USER: " + PromptTemplate.LLAVA.template() + " ASSISTANT:",
                    PromptTemplate.Scoring.LETTERS, " ");
        }
        try {
            return PromptTemplate.read(JSON.readTree(f.toFile()), f.toString());
        } catch (IOException e) {
            throw new BadInputException(f + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** One line per part LLaVA cannot hold, naming the alternative. */
    private void checkExpressible() {
        if (!Checkpoint.existsIn(towerDir) || !Files.isRegularFile(towerDir.resolve("config.json"))) {
            throw new BadInputException("the vision tower " + towerDir + " has no safetensors checkpoint (an ONNX"
                    + " export?): a LLaVA checkpoint holds a CLIP/SigLIP tower in safetensors — use --format peft, or"
                    + " train with a safetensors tower");
        }
        checkProjector();
        if (lora != null && lora.adaptionPrompt().isPresent()) {
            throw new BadInputException("the LLM adapter has LLaMA-Adapter prompts, which change attention and"
                    + " cannot be merged into LLaVA's weights — use --format peft");
        }
        if (!Files.isRegularFile(llmDir.resolve("tokenizer.json"))) {
            throw new BadInputException(llmDir + ": no tokenizer.json; a LLaVA checkpoint needs the tokenizer to"
                    + " hold its <image> token");
        }
        try {
            Integer.parseInt(bundle.visionLayer());
        } catch (NumberFormatException ex) {
            throw new BadInputException("vision layer '" + bundle.visionLayer() + "' is an ONNX output name; LLaVA"
                    + " takes a layer index such as -2");
        }
    }

    /** LLaVA's projector (in a checkpoint or as mm_projector) is linear_1, GELU, linear_2 and nothing more. */
    private void checkProjector() {
        Projector p = adapter.projector();
        if (p.type() != ProjectorType.MLP2X_GELU) {
            throw new BadInputException("the projector is " + p.type().label() + ": LLaVA's is linear_1, GELU,"
                    + " linear_2 — retrain with --projector mlp2x_gelu");
        }
        if (p.positions() > 0) {
            throw new BadInputException("the projector has a per-token position embedding, which LLaVA cannot hold —"
                    + " retrain without --position-embedding");
        }
    }

    private static void checkTarget(Path out) {
        if (Files.isDirectory(out)) {
            try (Stream<Path> s = Files.list(out)) {
                if (s.findAny().isPresent()) {
                    throw new BadInputException(out + " exists and is not empty; export into a new folder");
                }
            } catch (IOException ex) {
                throw new BadInputException(out + ": cannot read: " + ex.getMessage(), ex);
            }
        } else if (Files.exists(out)) {
            throw new BadInputException(out + " exists and is not a folder");
        }
    }

    private void writeInto(Path dir) throws IOException {
        LanguageModelConfig text = LanguageModelConfig.read(llmDir);
        int imageToken = Math.max(text.vocabSize(), tokenizerSize());
        List<SafetensorsStream.Entry> entries = new ArrayList<>();
        try (Checkpoint tower = Checkpoint.open(towerDir); Checkpoint llm = Checkpoint.open(llmDir)) {
            towerTensors(tower, entries);
            projectorTensors(entries);
            llmTensors(llm, imageToken + 1, entries);
            writeShards(dir, entries);
        }
        LlavaFiles.write(dir, towerDir, llmDir, bundle, imageToken);
    }

    /** The PEFT adapter directories and the projector as mm_projector.safetensors with its config. */
    private void writePeft(Path dir) throws IOException {
        if (lora != null) {
            lora.save(dir, bundle.llm());
        }
        List<SafetensorsStream.Entry> entries = new ArrayList<>();
        projectorTensors(entries);
        List<SafetensorsStream.Entry> renamed = new ArrayList<>();
        for (SafetensorsStream.Entry e : entries) {
            String n = e.name().substring("multi_modal_projector.".length()).replace("linear_1.", "0.")
                    .replace("linear_2.", "2.");
            renamed.add(new SafetensorsStream.Entry("model.mm_projector." + n, e.dtype(), e.shape(), e.values()));
        }
        SafetensorsStream.write(dir.resolve(Adapter.LLAVA_WEIGHTS), Map.of("format", "pt"), renamed);
        AdapterConfig c = adapter.config();
        new AdapterConfig(c.projector(), c.featureDim(), c.hiddenSize(), c.llmHiddenSize(), c.imageTokens(), false,
                c.tower(), c.towerLayer(), c.llm()).write(dir); // the gate is folded: the file has none
        // a bundle over the same base parts, so Glimpse loads the export as it is (local parts by absolute path)
        new Bundle(baseRef(bundle.vision(), towerDir), bundle.visionLayer(), bundle.dropCls(),
                baseRef(bundle.llm(), llmDir), ".", bundle.template(), lora == null ? null : ".").write(dir);
    }

    /** A hub id stays one; a local part is named by its absolute path (the export lives elsewhere). */
    private String baseRef(String ref, Path resolved) {
        Path p = Path.of(ref);
        boolean local = p.isAbsolute() || Files.exists(bundleDir.resolve(ref));
        return local ? resolved.toAbsolutePath().normalize().toString() : ref;
    }

    private int tokenizerSize() throws IOException {
        JsonNode t = JSON.readTree(llmDir.resolve("tokenizer.json").toFile());
        int n = t.path("model").path("vocab").size();
        for (JsonNode a : t.path("added_tokens")) {
            n = Math.max(n, a.path("id").asInt() + 1);
        }
        return n;
    }

    /** The tower's floating-point tensors under its own prefix, as {@code vision_tower.*}. */
    private void towerTensors(Checkpoint ckpt, List<SafetensorsStream.Entry> out) {
        String prefix = ModelLoader.prefixOf(ckpt, "embeddings.patch_embedding.weight");
        for (TensorInfo t : ckpt.tensors()) {
            if (t.name().startsWith(prefix) && t.dtype().isFloating()) {
                out.add(entry("vision_tower." + t.name().substring(prefix.length()), t, () -> ckpt.toFloats(t.name())));
            }
        }
    }

    /** linear_1 and linear_2; a gate folded into linear_2 (tanh(g)·(W₂h + b₂) = (tanh(g)W₂)h + tanh(g)b₂). */
    private void projectorTensors(List<SafetensorsStream.Entry> out) {
        Projector p = adapter.projector();
        Map<String, float[]> v = p.parameters().values();
        float gate = p.gated() ? (float) Math.tanh(v.get("gate")[0]) : 1f;
        for (String n : new String[] {"linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias"}) {
            float[] values = v.get(n).clone();
            if (n.startsWith("linear_2") && p.gated()) {
                for (int i = 0; i < values.length; i++) {
                    values[i] *= gate;
                }
            }
            DType dtype = options.dtype() != null ? options.dtype() : DType.F32;
            out.add(new SafetensorsStream.Entry("multi_modal_projector." + n, dtype, p.parameters().shape(n),
                    () -> values));
        }
    }

    /**
     * The LLM's tensors as {@code language_model.*}, the LoRA merged into its weights, the embeddings (and an untied
     * LM head) grown to {@code rows}: the new rows are the mean of the others, as transformers' resize makes them.
     */
    private void llmTensors(Checkpoint ckpt, int rows, List<SafetensorsStream.Entry> out) {
        for (TensorInfo t : ckpt.tensors()) {
            if (!t.dtype().isFloating() || !(t.name().startsWith("model.") || t.name().equals("lm_head.weight"))) {
                continue;
            }
            String name = t.name().equals("lm_head.weight") ? "language_model.lm_head.weight"
                    : "language_model." + t.name();
            boolean grow = t.name().equals("model.embed_tokens.weight") || t.name().equals("lm_head.weight");
            long[] shape = grow ? new long[] {rows, t.shape()[1]} : t.shape();
            out.add(entry(name, t, shape, () -> {
                float[] w = ckpt.toFloats(t.name());
                float[] d = lora == null ? null : lora.loraDelta("model.", t.name());
                if (d != null) {
                    for (int i = 0; i < w.length; i++) {
                        w[i] += d[i];
                    }
                }
                return grow ? growRows(w, (int) t.shape()[0], (int) t.shape()[1], rows) : w;
            }));
        }
    }

    private static float[] growRows(float[] w, int rows, int cols, int to) {
        float[] out = java.util.Arrays.copyOf(w, to * cols);
        double[] mean = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                mean[c] += w[r * cols + c];
            }
        }
        for (int r = rows; r < to; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = (float) (mean[c] / rows);
            }
        }
        return out;
    }

    private SafetensorsStream.Entry entry(String name, TensorInfo t, Supplier<float[]> values) {
        return entry(name, t, t.shape(), values);
    }

    private SafetensorsStream.Entry entry(String name, TensorInfo t, long[] shape, Supplier<float[]> values) {
        return new SafetensorsStream.Entry(name, options.dtype() != null ? options.dtype() : t.dtype(), shape, values);
    }

    /** model.safetensors, or shards of at most maxShardBytes with model.safetensors.index.json. */
    private void writeShards(Path dir, List<SafetensorsStream.Entry> entries) throws IOException {
        List<List<SafetensorsStream.Entry>> shards = new ArrayList<>();
        long size = 0;
        long total = 0;
        for (SafetensorsStream.Entry e : entries) {
            if (shards.isEmpty() || (size > 0 && size + e.bytes() > options.maxShardBytes())) {
                shards.add(new ArrayList<>());
                size = 0;
            }
            shards.get(shards.size() - 1).add(e);
            size += e.bytes();
            total += e.bytes();
        }
        Map<String, String> meta = Map.of("format", "pt");
        if (shards.size() == 1) {
            SafetensorsStream.write(dir.resolve(Checkpoint.SINGLE), meta, shards.get(0));
            return;
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String file = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            SafetensorsStream.write(dir.resolve(file), meta, shards.get(i));
            shards.get(i).forEach(e -> map.put(e.name(), file));
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(Checkpoint.INDEX).toFile(), index);
    }

    /** The JSON files of the export: configs and the tokenizer with its image token. */
    static final class LlavaFiles {
        private LlavaFiles() {}

        static void write(Path dir, Path towerDir, Path llmDir, Bundle b, int imageToken) throws IOException {
            ObjectNode vision = object(towerDir.resolve("config.json"));
            if (vision.has("vision_config")) {
                String family = vision.path("model_type").asText("clip");
                vision = (ObjectNode) vision.get("vision_config"); // a whole CLIP/SigLIP model: its vision half
                if (!vision.has("model_type")) {
                    vision.put("model_type", family + "_vision_model");
                }
            }
            ObjectNode text = object(llmDir.resolve("config.json"));
            for (ObjectNode n : List.of(vision, text)) {
                n.remove(List.of("architectures", "transformers_version", "auto_map"));
            }
            text.put("vocab_size", imageToken + 1);
            int patch = vision.path("patch_size").asInt();
            int side = vision.path("image_size").asInt() / Math.max(1, patch);
            boolean cls = vision.path("model_type").asText("").startsWith("clip"); // SigLIP has no CLS token
            String strategy = cls && b.dropCls() ? "default" : "full"; // "default" drops the first token
            ObjectNode c = JSON.createObjectNode();
            c.putArray("architectures").add("LlavaForConditionalGeneration");
            c.put("model_type", "llava");
            c.put("image_token_index", imageToken);
            c.put("image_seq_length", side * side + (cls && !b.dropCls() ? 1 : 0));
            c.put("projector_hidden_act", "gelu");
            c.put("multimodal_projector_bias", true);
            c.put("vision_feature_layer", Integer.parseInt(b.visionLayer()));
            c.put("vision_feature_select_strategy", strategy);
            c.put("tie_word_embeddings", text.path("tie_word_embeddings").asBoolean(false));
            c.set("text_config", text);
            c.set("vision_config", vision);
            write(dir.resolve("config.json"), c);
            ObjectNode processor = JSON.createObjectNode();
            processor.put("processor_class", "LlavaProcessor");
            processor.put("image_token", MultimodalPrompt.IMAGE);
            processor.put("patch_size", patch);
            processor.put("num_additional_image_tokens", cls ? 1 : 0);
            processor.put("vision_feature_select_strategy", strategy);
            write(dir.resolve("processor_config.json"), processor);
            copy(towerDir.resolve("preprocessor_config.json"), dir, true);
            copy(llmDir.resolve("generation_config.json"), dir, false);
            copy(llmDir.resolve("special_tokens_map.json"), dir, false);
            tokenizer(dir, llmDir, imageToken);
            // chats: the template Glimpse renders them with (the LLM's own, else LLaVA v1), for transformers too
            String chat = TokenizerConfig.read(llmDir).chatTemplate();
            Files.writeString(dir.resolve(CHAT_TEMPLATE), chat != null ? chat : Conversation.LLAVA_V1_TEMPLATE);
            ObjectNode prompt = JSON.createObjectNode(); // questions: the template the bundle was trained with
            b.template().write(prompt);
            write(dir.resolve(PROMPT_FILE), prompt);
        }

        /** tokenizer.json and tokenizer_config.json with {@code <image>} added as a special token. */
        private static void tokenizer(Path dir, Path llmDir, int id) throws IOException {
            ObjectNode tok = object(llmDir.resolve("tokenizer.json"));
            ArrayNode added = tok.has("added_tokens") ? (ArrayNode) tok.get("added_tokens") : tok.putArray("added_tokens");
            ObjectNode image = JSON.createObjectNode().put("id", id).put("content", MultimodalPrompt.IMAGE)
                    .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false)
                    .put("special", true);
            added.add(image);
            write(dir.resolve("tokenizer.json"), tok);
            Path cfgFile = llmDir.resolve("tokenizer_config.json");
            ObjectNode cfg = Files.isRegularFile(cfgFile) ? object(cfgFile) : JSON.createObjectNode();
            ObjectNode decoder = cfg.has("added_tokens_decoder") ? (ObjectNode) cfg.get("added_tokens_decoder")
                    : cfg.putObject("added_tokens_decoder");
            ObjectNode entry = image.deepCopy();
            entry.remove("id");
            decoder.set(Integer.toString(id), entry);
            cfg.put("image_token", MultimodalPrompt.IMAGE);
            write(dir.resolve("tokenizer_config.json"), cfg);
        }

        private static ObjectNode object(Path file) throws IOException {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw new BadInputException(file + ": expected a JSON object");
            }
            return (ObjectNode) n;
        }

        private static void write(Path file, JsonNode n) throws IOException {
            JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), n);
        }

        private static void copy(Path file, Path dir, boolean required) throws IOException {
            if (Files.isRegularFile(file)) {
                Files.copy(file, dir.resolve(file.getFileName()));
            } else if (required) {
                throw new BadInputException(file + " is missing; the export needs it");
            }
        }
    }
}
