package dev.glimpse.samples.demo;

import dev.glimpse.core.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the offline demo kit (samples/demo-kit) shipped with Glimpse. */
public final class DemoKit {
    private DemoKit() {}

    /** glimpse.home/samples/demo-kit, else ./samples/demo-kit, else ./demo-kit. */
    public static Path locate() {
        String home = System.getProperty("glimpse.home");
        Path[] candidates = {home == null ? null : Path.of(home, "samples", "demo-kit"), Path.of("samples", "demo-kit"),
            Path.of("demo-kit")};
        for (Path p : candidates) {
            if (p != null && Files.isDirectory(p.resolve("stories260k")) && Files.isDirectory(
                    p.resolve("mobilenet-v2-features"))) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new BadInputException("cannot find the demo kit (samples/demo-kit with stories260k and "
                + "mobilenet-v2-features); run from the Glimpse checkout or set -Dglimpse.home");
    }

    public static Path llm(Path kit) {
        return kit.resolve("stories260k");
    }

    public static Path tower(Path kit) {
        return kit.resolve("mobilenet-v2-features");
    }
}
