package dev.glimpse.langchain4j;

import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.ChatInput;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.ImageResolver;
import dev.langchain4j.data.image.Image;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.function.Consumer;

/** LangChain4j requests as Glimpse completions: messages through the model's chat format, images in place. */
final class ChatRequests {
    private ChatRequests() {}

    /** Runs {@code request} on {@code vlm}, passing text to {@code onText} as it is made. */
    static ChatResponse run(VisionLanguageModel vlm, ImageLoader loader, String modelName, Long seed,
                            ChatRequest request, Consumer<String> onText) {
        ChatRequestParameters p = request.parameters();
        refuseUnsupported(p);
        try {
            ChatInput in = input(request, new ImageResolver(loader, true, false, "fetch remote images yourself"), seed);
            VisionLanguageModel.Completion c = vlm.complete(in.prompt(vlm.tokenizer()), vlm.features(in.images()),
                    in.options(), in.stops(), onText);
            return ChatResponse.builder().aiMessage(AiMessage.from(c.text())).modelName(modelName)
                    .tokenUsage(new TokenUsage(c.promptTokens(), c.completionTokens()))
                    .finishReason(c.truncated() ? FinishReason.LENGTH : FinishReason.STOP).build();
        } catch (BadInputException | IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
    }

    /** The request as Glimpse's {@link ChatInput}: the checks the server makes too. */
    private static ChatInput input(ChatRequest request, ImageResolver images, Long seed) {
        ChatRequestParameters p = request.parameters();
        ChatInput.Builder in = ChatInput.builder(256, Integer.MAX_VALUE, Integer.MAX_VALUE);
        int i = 0;
        for (ChatMessage m : request.messages()) {
            String field = "messages[" + i++ + "]";
            if (m instanceof SystemMessage s) {
                in.message("system", field).text(s.text(), field);
            } else if (m instanceof UserMessage u) {
                in.message("user", field);
                for (Content c : u.contents()) {
                    if (c instanceof TextContent t) {
                        in.text(t.text(), field);
                    } else if (c instanceof ImageContent ic) {
                        in.image(image(images, ic.image()), field);
                    } else {
                        throw new UnsupportedFeatureException("Glimpse takes text and image content, not "
                                + c.type());
                    }
                }
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("Glimpse does not call tools");
                }
                in.message("assistant", field).text(a.text() == null ? "" : a.text(), field);
            } else {
                throw new UnsupportedFeatureException("Glimpse does not take " + m.type() + " messages");
            }
        }
        return in.maxTokens(p.maxOutputTokens(), "maxOutputTokens").temperature(p.temperature(), "temperature")
                .topK(p.topK(), "topK").topP(p.topP(), "topP").seed(seed)
                .stops(p.stopSequences() == null ? List.of() : p.stopSequences(), "stopSequences").build();
    }

    private static void refuseUnsupported(ChatRequestParameters p) {
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("Glimpse does not call tools");
        }
        if (p.responseFormat() != null && p.responseFormat().type() != ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("Glimpse answers in text only, not " + p.responseFormat().type());
        }
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0
                || p.presencePenalty() != null && p.presencePenalty() != 0) {
            throw new UnsupportedFeatureException("Glimpse has no frequency or presence penalties");
        }
    }

    /** Base64 data, a data: URL or a file: URL; remote URLs are refused (fetch the image yourself). */
    private static BufferedImage image(ImageResolver images, Image image) {
        if (image.base64Data() != null) {
            return images.resolve(image.base64Data(), "ImageContent");
        }
        if (image.url() == null) {
            throw new InvalidRequestException("ImageContent has neither base64 data nor a URL");
        }
        return images.resolve(image.url().toString(), "ImageContent");
    }
}
