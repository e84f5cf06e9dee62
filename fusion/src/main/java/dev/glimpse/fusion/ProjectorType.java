package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;

/** The projector architectures: LLaVA v1's single linear map and LLaVA-1.5's two-layer MLP with GELU. */
public enum ProjectorType {
    LINEAR("linear"), MLP2X_GELU("mlp2x_gelu");

    private final String label;

    ProjectorType(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public static ProjectorType parse(String s) {
        for (ProjectorType t : values()) {
            if (t.label.equals(s)) {
                return t;
            }
        }
        throw new BadInputException("unknown projector type '" + s + "' (expected linear or mlp2x_gelu)");
    }
}
