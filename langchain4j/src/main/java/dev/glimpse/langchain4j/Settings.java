package dev.glimpse.langchain4j;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import java.util.ArrayList;
import java.util.List;

/** What both chat models are built from, and what they share. */
final class Settings {
    private Settings() {}

    /** The state and the LangChain4j methods both chat models have alike. */
    abstract static class Base {
        final VisionLanguageModel vlm;
        final ChatRequestParameters defaults;
        final Long seed;
        final ImageLoader loader;
        private final List<ChatModelListener> listeners;

        Base(Builder<?> b) {
            this.vlm = b.model();
            this.defaults = b.defaults();
            this.seed = b.seed();
            this.loader = new ImageLoader(b.maxPixels(), b.maxImageBytes());
            this.listeners = b.listeners();
        }

        public ChatRequestParameters defaultRequestParameters() {
            return defaults;
        }

        public List<ChatModelListener> listeners() {
            return listeners;
        }

        public ModelProvider provider() {
            return ModelProvider.OTHER;
        }
    }

    /** The builder fields both models share, in LangChain4j's style. */
    @SuppressWarnings("unchecked")
    abstract static class Builder<B extends Builder<B>> {
        private VisionLanguageModel model;
        private String modelName;
        private Double temperature;
        private Double topP;
        private Integer topK;
        private Integer maxOutputTokens = 256;
        private List<String> stopSequences = List.of();
        private Long seed;
        private long maxPixels = ImageLoader.DEFAULT_MAX_PIXELS;
        private long maxImageBytes = 20L << 20;
        private final List<ChatModelListener> listeners = new ArrayList<>();

        /** The loaded model (the caller closes it). */
        public B model(VisionLanguageModel model) {
            this.model = model;
            return (B) this;
        }

        /** The name reported in responses (default "glimpse"). */
        public B modelName(String name) {
            this.modelName = name;
            return (B) this;
        }

        /** 0 or unset: greedy decoding. */
        public B temperature(Double t) {
            this.temperature = t;
            return (B) this;
        }

        public B topP(Double p) {
            this.topP = p;
            return (B) this;
        }

        public B topK(Integer k) {
            this.topK = k;
            return (B) this;
        }

        /** New tokens at most (default 256). */
        public B maxOutputTokens(Integer n) {
            this.maxOutputTokens = n;
            return (B) this;
        }

        public B stopSequences(List<String> stops) {
            this.stopSequences = List.copyOf(stops);
            return (B) this;
        }

        /** Seed of the sampler: the same request and seed give the same answer (default: a new draw each call). */
        public B seed(Long seed) {
            this.seed = seed;
            return (B) this;
        }

        /** Largest image accepted, in pixels and in encoded bytes. */
        public B imageLimits(long maxPixels, long maxBytes) {
            this.maxPixels = maxPixels;
            this.maxImageBytes = maxBytes;
            return (B) this;
        }

        public B listeners(List<ChatModelListener> listeners) {
            this.listeners.addAll(listeners);
            return (B) this;
        }

        VisionLanguageModel model() {
            if (model == null) {
                throw new IllegalStateException("model(VisionLanguageModel) is required");
            }
            return model;
        }

        ChatRequestParameters defaults() {
            return DefaultChatRequestParameters.builder().modelName(modelName == null ? "glimpse" : modelName)
                    .temperature(temperature).topP(topP).topK(topK).maxOutputTokens(maxOutputTokens)
                    .stopSequences(stopSequences).build();
        }

        Long seed() {
            return seed;
        }

        long maxPixels() {
            return maxPixels;
        }

        long maxImageBytes() {
            return maxImageBytes;
        }

        List<ChatModelListener> listeners() {
            return List.copyOf(listeners);
        }
    }
}
