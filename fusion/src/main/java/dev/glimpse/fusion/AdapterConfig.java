package dev.glimpse.fusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * projector_config.json: what a projector was trained for — the tower (its id, feature layer, tokens and width), the
 * projector type, and the LLM (name and hidden size). Loading an adapter onto anything else is refused.
 */
public record AdapterConfig(ProjectorType projector, int featureDim, int hiddenSize, int llmHiddenSize,
                            int imageTokens, boolean gate, String tower, String towerLayer, String llm) {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** The file name; PEFT owns adapter_config.json, which in-LLM adapters use. */
    public static final String FILE = "projector_config.json";
    /** What bundles written before 0.1 called it; still read. */
    static final String LEGACY_FILE = "adapter_config.json";

    public void write(Path dir) {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", "glimpse-adapter/1");
        n.put("projector_type", projector.label());
        n.put("feature_dim", featureDim);
        n.put("projector_hidden_size", hiddenSize);
        n.put("llm_hidden_size", llmHiddenSize);
        n.put("image_tokens", imageTokens);
        n.put("gate", gate);
        n.put("vision_tower", tower);
        n.put("vision_feature_layer", towerLayer);
        n.put("llm", llm);
        try {
            AtomicFile.writeString(dir.resolve(FILE), JSON.writeValueAsString(n));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static AdapterConfig read(Path dir) {
        Path f = dir.resolve(FILE);
        if (!Files.isRegularFile(f)) {
            f = dir.resolve(LEGACY_FILE);
        }
        if (!Files.isRegularFile(f)) {
            throw new BadInputException(dir + ": no " + FILE + " (not a Glimpse projector directory)");
        }
        try {
            JsonNode n = JSON.readTree(f.toFile());
            if (n.has("peft_type")) {
                throw new BadInputException(f + ": a PEFT adapter (peft_type " + n.get("peft_type").asText()
                        + "), not a Glimpse projector; load it as an LLM adapter (--lora)");
            }
            for (String k : new String[] {"projector_type", "feature_dim", "llm_hidden_size", "image_tokens"}) {
                if (!n.hasNonNull(k)) {
                    throw new BadInputException(f + ": field '" + k + "' is missing");
                }
            }
            return new AdapterConfig(ProjectorType.parse(n.get("projector_type").asText()), n.get("feature_dim").asInt(),
                    n.path("projector_hidden_size").asInt(n.get("llm_hidden_size").asInt()),
                    n.get("llm_hidden_size").asInt(), n.get("image_tokens").asInt(), n.path("gate").asBoolean(false),
                    n.path("vision_tower").asText(""), n.path("vision_feature_layer").asText(""),
                    n.path("llm").asText(""));
        } catch (IOException e) {
            throw new BadInputException(f + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Refuses a tower or LLM this adapter was not trained for, saying which and what was expected. */
    public void checkCompatible(String towerName, String layer, int towerTokens, int towerDim, String llmName,
                                int llmHidden) {
        if (!tower.isEmpty() && !tower.equals(towerName)) {
            throw new BadInputException("adapter was trained on vision tower '" + tower + "' but was given '"
                    + towerName + "'");
        }
        if (!towerLayer.isEmpty() && !towerLayer.equals(layer)) {
            throw new BadInputException("adapter was trained on features of layer '" + towerLayer + "' of " + tower
                    + " but the tower gives layer '" + layer + "'");
        }
        if (towerDim != featureDim || towerTokens != imageTokens) {
            throw new BadInputException("adapter expects " + imageTokens + " image tokens of width " + featureDim
                    + " but the vision tower gives " + towerTokens + " of width " + towerDim);
        }
        if (!llm.isEmpty() && !llm.equals(llmName)) {
            throw new BadInputException("adapter was trained for LLM '" + llm + "' but was given '" + llmName + "'");
        }
        if (llmHidden != llmHiddenSize) {
            throw new BadInputException("adapter projects to width " + llmHiddenSize + " but the LLM has hidden size "
                    + llmHidden);
        }
    }
}
