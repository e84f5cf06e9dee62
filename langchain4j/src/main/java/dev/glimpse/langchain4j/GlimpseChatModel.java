package dev.glimpse.langchain4j;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import java.util.List;

/**
 * A Glimpse vision-language model as a LangChain4j {@link ChatModel}, in process: {@code ImageContent} goes to the
 * vision tower, messages through the model's chat template (LLaVA's conversation format when it has none).
 * Temperature 0 or unset decodes greedily. Tools and JSON response formats are refused.
 *
 * <pre>{@code
 * ChatModel model = GlimpseChatModel.builder().model(VisionLanguageModel.load("runs/demo/bundle")).build();
 * String answer = model.chat(UserMessage.from(ImageContent.from(base64, "image/png"), TextContent.from("What color?")))
 *         .aiMessage().text();
 * }</pre>
 */
public final class GlimpseChatModel implements ChatModel {
    private final VisionLanguageModel vlm;
    private final ChatRequestParameters defaults;
    private final Long seed;
    private final ImageLoader loader;
    private final List<ChatModelListener> listeners;

    private GlimpseChatModel(Settings.Builder<?> b) {
        this.vlm = b.model();
        this.defaults = b.defaults();
        this.seed = b.seed();
        this.loader = new ImageLoader(b.maxPixels(), b.maxImageBytes());
        this.listeners = b.listeners();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The model, generation defaults (overridden per request) and listeners. */
    public static final class Builder extends Settings.Builder<Builder> {
        public GlimpseChatModel build() {
            return new GlimpseChatModel(this);
        }
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        return ChatRequests.run(vlm, loader, defaults.modelName(), seed, request, piece -> { });
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }
}
