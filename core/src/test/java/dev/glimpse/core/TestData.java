package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the repository's own test data: {@code testdata/} (Hugging Face reference fixtures, tokenizer fixtures, a
 * slice of ScienceQA; see testdata/README.md) and the demo kit in {@code samples/demo-kit} (real small models).
 *
 * <p>The build passes the repository root as {@code glimpse.repo}; without it (an IDE run) the root is the nearest
 * folder above the working directory that holds {@code testdata/README.md}. Nothing outside the repository is read.
 * Call these inside test methods, not in static initialisers, so that a missing file fails one test, not a class.
 */
public final class TestData {
    private TestData() {}

    /** The repository root. */
    public static Path repo() {
        String p = System.getProperty("glimpse.repo");
        if (p != null && !p.isBlank()) {
            Path root = Path.of(p).toAbsolutePath().normalize();
            if (!Files.isRegularFile(root.resolve("testdata/README.md"))) {
                fail("-Dglimpse.repo=" + p + " does not hold testdata/README.md");
            }
            return root;
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("testdata/README.md")) && Files.isRegularFile(d.resolve("pom.xml"))) {
                return d;
            }
        }
        return fail("no testdata/README.md above " + Path.of("").toAbsolutePath() + "; run the tests inside the"
                + " Glimpse checkout or pass -Dglimpse.repo=<checkout>");
    }

    /** {@code testdata/}. */
    public static Path root() {
        return repo().resolve("testdata");
    }

    /** A reference fixture made by Hugging Face transformers: {@code testdata/hf/<name>}. */
    public static Path fixture(String name) {
        return existing(root().resolve("hf").resolve(name));
    }

    /** A tokenizer fixture: {@code testdata/tokenizers/<name>}. */
    public static Path tokenizer(String name) {
        return existing(root().resolve("tokenizers").resolve(name));
    }

    /** A real pretrained model of the demo kit: {@code samples/demo-kit/<name>} (stories260k, mobilenet-v2-features). */
    public static Path model(String name) {
        return existing(repo().resolve("samples/demo-kit").resolve(name));
    }

    /** Reference outputs of the demo kit's MobileNetV2 tower: {@code testdata/mobilenet-v2-features/reference.safetensors}. */
    public static Path mobileNetReference() {
        return existing(root().resolve("mobilenet-v2-features/reference.safetensors"));
    }

    /** The ScienceQA slice the tests use: {@code testdata/scienceqa} (CC BY-NC-SA 4.0, see its README). */
    public static Path scienceQa() {
        return existing(root().resolve("scienceqa"));
    }

    private static Path existing(Path p) {
        if (!Files.exists(p)) {
            fail("test data missing: " + p + " (see testdata/README.md)");
        }
        return p;
    }
}
