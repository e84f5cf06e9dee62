package dev.glimpse.fusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Glimpse bundle: the {@code bundle.json} that names a model's parts — the vision tower with its feature layer and
 * token selection, the LLM, the projector ({@code adapter}), the optional LLM adapter (LoRA and/or adaption prompts,
 * PEFT directories) — and the prompt contract it was trained with. References are paths relative to the bundle's
 * directory, absolute paths, or hub ids.
 */
public record Bundle(String vision, String visionLayer, boolean dropCls, String llm, String adapter,
                     PromptTemplate template, String llmAdapter) {
    public static final String FILE = "bundle.json";

    /** A bundle without an LLM adapter. */
    public Bundle(String vision, String visionLayer, boolean dropCls, String llm, String adapter,
                  PromptTemplate template) {
        this(vision, visionLayer, dropCls, llm, adapter, template, null);
    }

    /** Whether {@code dir} holds a bundle. */
    public static boolean isBundle(Path dir) {
        return Files.isRegularFile(dir.resolve(FILE));
    }

    /** Writes {@code dir/bundle.json} atomically. */
    public void write(Path dir) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("format", "glimpse-bundle/1");
        n.put("vision", vision);
        n.put("vision_layer", visionLayer);
        n.put("drop_cls", dropCls);
        n.put("llm", llm);
        n.put("adapter", adapter);
        if (llmAdapter != null) {
            n.put("llm_adapter", llmAdapter);
        }
        template.write(n);
        try {
            AtomicFile.writeString(dir.resolve(FILE), new ObjectMapper().writerWithDefaultPrettyPrinter()
                    .writeValueAsString(n));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads {@code dir/bundle.json}: one line naming the file and the field when it is not a valid bundle. */
    public static Bundle read(Path dir) {
        Path file = dir.resolve(FILE);
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (n == null || !n.isObject()) {
            throw new BadInputException(file + ": expected a JSON object");
        }
        for (String k : new String[] {"vision", "llm", "adapter"}) {
            if (!n.hasNonNull(k)) {
                throw new BadInputException(file + ": field '" + k + "' is missing");
            }
        }
        return new Bundle(n.get("vision").asText(), n.path("vision_layer").asText("-2"),
                n.path("drop_cls").asBoolean(true), n.get("llm").asText(), n.get("adapter").asText(),
                PromptTemplate.read(n, file.toString()), n.hasNonNull("llm_adapter") ? n.get("llm_adapter").asText()
                        : null);
    }
}
