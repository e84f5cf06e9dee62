package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LanguageModelConfig;
import java.util.HashMap;
import java.util.Map;

/**
 * A LoRA's weight deltas scaling·B·A [out, in] per checkpoint key, to merge before the ONNX graph is written (as
 * PEFT's merge_and_unload, and as {@link CausalLM#attach} does in DJL).
 */
final class LoraDeltas {
    private LoraDeltas() {}

    static Map<String, float[]> of(LanguageAdapter adapter, LanguageModelConfig c, String prefix) {
        adapter.checkCompatible(c);
        LoraConfig lc = adapter.lora().orElseThrow();
        Map<String, float[]> out = new HashMap<>();
        try (NDManager m = GlimpseEngine.newCpuManager()) {
            LanguageAdapter.Weights w = adapter.bind(m, DataType.FLOAT32, false);
            for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
                for (String t : LoraConfig.ALL_LINEAR) {
                    NDArray a = w.loraA(layer, t);
                    if (a == null) {
                        continue;
                    }
                    NDArray delta = w.loraB(layer, t).matMul(a).mul(lc.scaling());
                    out.put(LlamaTensors.linear(prefix, layer, t) + ".weight", delta.toFloatArray());
                }
            }
        }
        return out;
    }
}
