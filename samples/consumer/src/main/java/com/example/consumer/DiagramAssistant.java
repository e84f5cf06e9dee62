package com.example.consumer;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.ModelRepository;
import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

/** What an application writes: one model, loaded once with explicit settings, shared by every caller. */
public final class DiagramAssistant implements AutoCloseable {
    private final VisionLanguageModel model;

    public DiagramAssistant(Path bundle, Path cache) {
        this.model = VisionLanguageModel.builder()
                .model(bundle.toString())
                .repository(ModelRepository.builder().cacheDir(cache).offline(true).build())
                .device(Device.cpu())
                .dataType(DataType.FLOAT32)
                .threads(2)
                .build();
    }

    public Answer ask(BufferedImage image, String question, List<String> choices) {
        return model.answer(Question.of(image, question, choices));
    }

    @Override
    public void close() {
        model.close();
    }
}
