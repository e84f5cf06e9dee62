package dev.glimpse.language;

import java.util.List;

/**
 * The Hugging Face tensor names of the Llama family (Llama, Qwen2, Qwen3), in one place as llama.cpp's llama-arch
 * keeps them: both engines ({@link LlamaModel}, {@link OnnxLlamaGraph}) and the adapters (LoRA keys, merges,
 * adaption prompts) name tensors through this table. {@code prefix} is where the decoder sits in the checkpoint
 * ({@code model.}, or {@code model.language_model.} in a LLaVA one).
 */
final class LlamaTensors {
    /** The seven linear layers of a decoder layer, in PEFT's all-linear order. */
    static final List<String> LINEAR = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj");

    private LlamaTensors() {}

    static String embedTokens(String prefix) {
        return prefix + "embed_tokens.weight";
    }

    /** The final RMSNorm. */
    static String norm(String prefix) {
        return prefix + "norm.weight";
    }

    static String inputLayernorm(String prefix, int layer) {
        return layer(prefix, layer) + "input_layernorm.weight";
    }

    static String postAttentionLayernorm(String prefix, int layer) {
        return layer(prefix, layer) + "post_attention_layernorm.weight";
    }

    /** Qwen3's RMSNorm over head_dim of the queries ({@code q}) or keys ({@code k}) before the rotation. */
    static String headNorm(String prefix, int layer, char qk) {
        return layer(prefix, layer) + "self_attn." + qk + "_norm.weight";
    }

    /** A linear layer's module name without .weight / .bias (e.g. {@code model.layers.3.mlp.up_proj}). */
    static String linear(String prefix, int layer, String name) {
        return layer(prefix, layer) + block(name) + "." + name;
    }

    /** The block a linear layer lives in: {@code mlp} or {@code self_attn}. */
    static String block(String name) {
        return name.equals("gate_proj") || name.equals("up_proj") || name.equals("down_proj") ? "mlp" : "self_attn";
    }

    /** LLaMA-Adapter's prompt ({@code prompt}) or gate ({@code gate}) of a layer, as PEFT names them. */
    static String adaption(String prefix, int layer, String part) {
        return layer(prefix, layer) + "self_attn.adaption_" + part;
    }

    private static String layer(String prefix, int layer) {
        return prefix + "layers." + layer + ".";
    }
}
