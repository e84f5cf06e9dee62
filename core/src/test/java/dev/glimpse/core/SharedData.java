package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates {@code ../shared} (reference fixtures, real small models, ScienceQA data) for tests. */
public final class SharedData {
    private SharedData() {}

    public static Path root() {
        String p = System.getProperty("glimpse.shared");
        Path root = p != null ? Path.of(p) : Path.of("..", "..", "shared");
        if (!Files.isDirectory(root)) {
            root = Path.of("..", "shared");
        }
        assertTrue(Files.isDirectory(root), "the shared reference data must be beside the checkout: " + root.toAbsolutePath());
        return root.toAbsolutePath().normalize();
    }

    public static Path fixture(String name) {
        return root().resolve("fixtures/hf").resolve(name);
    }

    public static Path model(String name) {
        return root().resolve("models").resolve(name);
    }

    public static Path scienceQa() {
        return root().resolve("data/scienceqa");
    }
}
