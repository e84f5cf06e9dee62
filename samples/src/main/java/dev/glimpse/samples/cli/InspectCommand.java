package dev.glimpse.samples.cli;

import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.ModelConfig;
import dev.glimpse.core.ModelRepository;
import dev.glimpse.core.TensorInfo;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List a checkpoint's tensors (name, dtype, shape, bytes) and summarise its config.",
        footer = {"", "Examples:", "  glimpse inspect samples/demo-kit/stories260k",
            "  glimpse inspect model.safetensors --json", "  glimpse inspect Qwen/Qwen2.5-0.5B-Instruct"})
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "A .safetensors file, a model directory, or a hub id org/name[@rev].")
    String model;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Path path = GlimpseCli.repository().resolve(model);
        Path dir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        List<Map<String, Object>> tensors = new ArrayList<>();
        long params = 0;
        long bytes = 0;
        try (Checkpoint c = Checkpoint.open(path)) {
            for (TensorInfo t : c.tensors()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", t.name());
                m.put("dtype", t.dtype().name());
                m.put("shape", t.shape());
                m.put("bytes", t.byteLength());
                tensors.add(m);
                params += t.numel();
                bytes += t.byteLength();
            }
        }
        ModelConfig config = Files.isRegularFile(dir.resolve("config.json")) ? ModelConfig.read(dir) : null;
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("tensors", tensors);
            o.put("parameters", params);
            o.put("config", config == null ? null : config.summary());
            out.println(Json.write(o));
            return 0;
        }
        int w = tensors.stream().mapToInt(t -> ((String) t.get("name")).length()).max().orElse(4);
        out.printf("%-" + w + "s  %-5s  %-20s  %s%n", "name", "dtype", "shape", "bytes");
        for (Map<String, Object> t : tensors) {
            out.printf("%-" + w + "s  %-5s  %-20s  %,d%n", t.get("name"), t.get("dtype"),
                    java.util.Arrays.toString((long[]) t.get("shape")), (Long) t.get("bytes"));
        }
        out.printf("%n%d tensors, %,d parameters, %,d bytes%n", tensors.size(), params, bytes);
        if (config != null) {
            out.println("config: " + config.summary());
        }
        return 0;
    }
}
