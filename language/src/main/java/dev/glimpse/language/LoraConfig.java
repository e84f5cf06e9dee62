package dev.glimpse.language;

import dev.glimpse.core.BadInputException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * Low-rank adapters on the LLM's linear layers, named as PEFT's LoraConfig names them: each targeted weight W
 * becomes W + scaling · B·A with A [r, in] random and B [out, r] zero at the start, so an untrained adapter leaves
 * the model exactly as it was. {@code scaling} is alpha / r, or alpha / √r with rsLoRA. Dropout applies to the
 * adapter's input during training only.
 *
 * @param targets module names among q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj
 * @param layers the decoder layers to adapt (PEFT's layers_to_transform); empty means all
 */
public record LoraConfig(int r, double alpha, boolean rslora, double dropout, List<String> targets,
                         List<Integer> layers) {
    /** Every linear layer of a decoder block (PEFT's "all-linear" for Llama-family models, lm_head excluded). */
    public static final List<String> ALL_LINEAR = LlamaTensors.LINEAR;

    public LoraConfig {
        if (r < 1) {
            throw new BadInputException("LoRA rank r must be >= 1, got " + r);
        }
        if (!(alpha > 0)) {
            throw new BadInputException("LoRA alpha must be > 0, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new BadInputException("LoRA dropout must be in [0, 1), got " + dropout);
        }
        targets = List.copyOf(new LinkedHashSet<>(targets));
        if (targets.isEmpty()) {
            throw new BadInputException("LoRA needs at least one target module (e.g. q_proj,v_proj or all-linear)");
        }
        for (String t : targets) {
            if (!ALL_LINEAR.contains(t)) {
                throw new BadInputException("LoRA target '" + t + "' is not a linear layer of a Llama-family block "
                        + ALL_LINEAR);
            }
        }
        layers = layers == null ? List.of() : List.copyOf(layers);
    }

    /** r, alpha and targets with no dropout, PEFT's scaling, all layers. */
    public static LoraConfig of(int r, double alpha, String targets) {
        return new LoraConfig(r, alpha, false, 0, parseTargets(targets), List.of());
    }

    /** The factor applied to B·A. */
    public double scaling() {
        return rslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    /** Whether layer {@code i} is adapted. */
    public boolean adapts(int layer) {
        return layers.isEmpty() || layers.contains(layer);
    }

    /**
     * "q,v", "q_proj,v_proj", "attention" (q,k,v,o), "mlp" (gate,up,down) or "all-linear", comma-separated and
     * combinable.
     */
    public static List<String> parseTargets(String spec) {
        List<String> out = new ArrayList<>();
        for (String raw : spec.split(",")) {
            String t = raw.strip().toLowerCase(Locale.ROOT);
            switch (t) {
                case "" -> { }
                case "all-linear", "all" -> out.addAll(ALL_LINEAR);
                case "attention", "attn" -> out.addAll(List.of("q_proj", "k_proj", "v_proj", "o_proj"));
                case "mlp" -> out.addAll(List.of("gate_proj", "up_proj", "down_proj"));
                default -> out.add(t.endsWith("_proj") ? t : t + "_proj");
            }
        }
        return out;
    }
}
