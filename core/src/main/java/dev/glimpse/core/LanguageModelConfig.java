package dev.glimpse.core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** config.json of a Llama-family causal LM: llama, qwen2, qwen3. */
public record LanguageModelConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int maxPositionEmbeddings,
        double rmsNormEps,
        RopeParameters rope,
        boolean attentionBias,
        boolean tieWordEmbeddings,
        String hiddenAct,
        List<Integer> bosTokenIds,
        List<Integer> eosTokenIds) implements ModelConfig {

    /** Rotary embedding parameters; {@code type} is default, linear or llama3. */
    public record RopeParameters(String type, double theta, double factor, double lowFreqFactor,
                                 double highFreqFactor, int originalMaxPositionEmbeddings) {}

    public static LanguageModelConfig read(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("config.json") : dirOrFile;
        ModelConfig c = ModelConfig.read(file);
        if (c instanceof LanguageModelConfig l) {
            return l;
        }
        if (c instanceof LlavaConfig v) {
            return v.text();
        }
        throw new BadInputException(file + ": model_type '" + c.modelType()
                + "' is not a language model (supported: llama, qwen2, qwen3)");
    }

    static LanguageModelConfig parse(JsonFields f) {
        String type = f.text("model_type");
        if (!List.of("llama", "qwen2", "qwen3").contains(type)) {
            throw new BadInputException(f.source() + ": model_type '" + type
                    + "' is not a supported language model (supported: llama, qwen2, qwen3)");
        }
        int hidden = positive(f, "hidden_size", f.integer("hidden_size"));
        int heads = positive(f, "num_attention_heads", f.integer("num_attention_heads"));
        int kv = f.integer("num_key_value_heads", heads);
        int headDim = positive(f, "head_dim", f.has("head_dim") ? f.integer("head_dim") : hidden / heads);
        if (kv <= 0 || heads % kv != 0) {
            throw f.bad("num_key_value_heads", "a positive divisor of num_attention_heads (" + heads + ")");
        }
        if (!f.has("head_dim") && hidden % heads != 0) {
            throw f.bad("num_attention_heads", "a divisor of hidden_size (" + hidden + ") or an explicit head_dim");
        }
        String act = f.text("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw f.bad("hidden_act", "silu (the only activation of the supported families)");
        }
        boolean bias = type.equals("qwen2") || f.bool("attention_bias", false);
        double eps = f.number("rms_norm_eps", 1e-6);
        if (!(eps > 0 && eps < 1)) {
            throw f.bad("rms_norm_eps", "a small positive number");
        }
        return new LanguageModelConfig(type, positive(f, "vocab_size", f.integer("vocab_size")), hidden,
                positive(f, "intermediate_size", f.integer("intermediate_size")),
                positive(f, "num_hidden_layers", f.integer("num_hidden_layers")), heads, kv, headDim,
                positive(f, "max_position_embeddings", f.integer("max_position_embeddings", 2048)), eps, rope(f), bias,
                f.bool("tie_word_embeddings", !type.equals("llama")), act, f.intList("bos_token_id"),
                f.intList("eos_token_id"));
    }

    private static int positive(JsonFields f, String field, int v) {
        if (v <= 0) {
            throw f.bad(field, "a positive integer");
        }
        return v;
    }

    private static RopeParameters rope(JsonFields f) {
        // transformers 5: rope_parameters {rope_theta, rope_type, ...}; 4.x: rope_theta + rope_scaling {type|rope_type}
        JsonFields p = f.objectOrNull("rope_parameters");
        JsonFields s = p != null ? p : f.objectOrNull("rope_scaling");
        double theta = p != null && p.has("rope_theta") ? p.number("rope_theta") : f.number("rope_theta", 10000.0);
        if (s == null) {
            return new RopeParameters("default", theta, 1, 1, 4, 0);
        }
        String type = s.has("rope_type") ? s.text("rope_type") : s.text("type", "default");
        return switch (type) {
            case "default" -> new RopeParameters("default", theta, 1, 1, 4, 0);
            case "linear" -> new RopeParameters("linear", theta, s.number("factor"), 1, 4, 0);
            case "llama3" -> new RopeParameters("llama3", theta, s.number("factor"), s.number("low_freq_factor", 1),
                    s.number("high_freq_factor", 4), s.integer("original_max_position_embeddings"));
            default -> throw s.bad(s.has("rope_type") ? "rope_type" : "type",
                    "a supported rope type (default, linear, llama3)");
        };
    }

    /** Parameter count implied by the config (embeddings counted once when tied). */
    public long parameterCount() {
        long h = hiddenSize;
        long q = (long) numAttentionHeads * headDim;
        long kvd = (long) numKeyValueHeads * headDim;
        long attn = h * q + 2 * h * kvd + q * h + (attentionBias ? q + 2 * kvd : 0);
        if (modelType.equals("qwen3")) {
            attn += 2L * headDim;
        }
        long mlp = 3L * h * intermediateSize;
        long layer = attn + mlp + 2 * h;
        return (long) vocabSize * h * (tieWordEmbeddings ? 1 : 2) + numHiddenLayers * layer + h;
    }

    @Override
    public Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", modelType);
        m.put("hidden_size", hiddenSize);
        m.put("layers", numHiddenLayers);
        m.put("heads", numAttentionHeads);
        m.put("kv_heads", numKeyValueHeads);
        m.put("head_dim", headDim);
        m.put("intermediate_size", intermediateSize);
        m.put("vocab_size", vocabSize);
        m.put("max_position_embeddings", maxPositionEmbeddings);
        m.put("rope", rope.type() + " theta=" + rope.theta());
        m.put("tie_word_embeddings", tieWordEmbeddings);
        return m;
    }
}
