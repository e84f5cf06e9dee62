package dev.glimpse.fusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.BadInputException;

/**
 * A multimodal prompt as the ONNX engine takes it: token ids with -1 in image slots, and the projected image rows
 * placed at those slots in an embeddings array [T, H] (null when there is no image).
 */
record OnnxPrompt(long[] ids, float[] embeds) {
    static OnnxPrompt of(MultimodalPrompt p, NDArray image, int hidden) {
        int[] tokens = p.ids();
        long[] ids = new long[tokens.length];
        int slots = 0;
        for (int i = 0; i < tokens.length; i++) {
            ids[i] = tokens[i];
            slots += tokens[i] == MultimodalPrompt.SLOT ? 1 : 0;
        }
        long have = image == null ? 0 : image.getShape().get(0);
        if (slots != have) {
            throw new BadInputException("the prompt has " + slots + " image slots but " + have + " image embeddings");
        }
        if (slots == 0) {
            return new OnnxPrompt(ids, null);
        }
        float[] rows = image.toType(DataType.FLOAT32, false).toFloatArray();
        float[] embeds = new float[tokens.length * hidden];
        for (int i = 0, k = 0; i < tokens.length; i++) {
            if (tokens[i] == MultimodalPrompt.SLOT) {
                System.arraycopy(rows, k++ * hidden, embeds, i * hidden, hidden);
            }
        }
        return new OnnxPrompt(ids, embeds);
    }
}
