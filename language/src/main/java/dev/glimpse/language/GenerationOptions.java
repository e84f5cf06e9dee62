package dev.glimpse.language;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * How to pick new tokens: greedy (the default) or sampling with temperature, top-k and top-p (applied in that
 * order, as transformers does), with a seed for repeatable draws.
 *
 * <pre>{@code GenerationOptions.builder().maxNewTokens(32).sample(0.8, 50, 0.95).seed(7).build()}</pre>
 */
public record GenerationOptions(int maxNewTokens, boolean doSample, double temperature, int topK, double topP,
                                long seed, Set<Integer> stopTokens, boolean useModelStopTokens) {
    public GenerationOptions {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        if (doSample && !(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0 when sampling, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        stopTokens = Set.copyOf(stopTokens);
    }

    public static GenerationOptions greedy(int maxNewTokens) {
        return builder().maxNewTokens(maxNewTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private int maxNewTokens = 64;
        private boolean doSample;
        private double temperature = 1.0;
        private int topK;
        private double topP = 1.0;
        private long seed;
        private final Set<Integer> stopTokens = new LinkedHashSet<>();
        private boolean useModelStops = true;

        public Builder maxNewTokens(int n) {
            this.maxNewTokens = n;
            return this;
        }

        public Builder greedy() {
            this.doSample = false;
            return this;
        }

        /** Sampling; {@code topK} 0 and {@code topP} 1 switch those filters off. */
        public Builder sample(double temperature, int topK, double topP) {
            this.doSample = true;
            this.temperature = temperature;
            this.topK = topK;
            this.topP = topP;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder stopToken(int id) {
            stopTokens.add(id);
            return this;
        }

        /** Whether the model's eos ids (generation_config.json, config.json) also stop generation; default true. */
        public Builder useModelStopTokens(boolean use) {
            this.useModelStops = use;
            return this;
        }

        public GenerationOptions build() {
            return new GenerationOptions(maxNewTokens, doSample, temperature, topK, topP, seed, stopTokens,
                    useModelStops);
        }
    }
}
