package dev.glimpse.langchain4j;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

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
public final class GlimpseChatModel extends Settings.Base implements ChatModel {
    private GlimpseChatModel(Settings.Builder<?> b) {
        super(b);
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
}
