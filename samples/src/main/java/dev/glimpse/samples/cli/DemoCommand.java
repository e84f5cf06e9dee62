package dev.glimpse.samples.cli;

import dev.glimpse.samples.demo.DemoKit;
import dev.glimpse.samples.demo.DemoRunner;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The offline demo: teach a frozen TinyStories LM to answer questions about drawn diagrams.",
            "Draws a diagram-QA set, caches the frozen MobileNetV2 tower's features, trains an mlp2x_gelu adapter,"
                    + " evaluates on held-out diagrams against the image-blind adapter and chance, saves a bundle,"
                    + " a report and charts, and answers three sample diagrams. No network needed."},
        footer = {"", "Examples:", "  glimpse demo", "  glimpse demo --out runs/demo --json"})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs/demo", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "Seed for data and training.")
    long seed;

    @Option(names = "--epochs", description = "Training epochs (default 14).")
    Integer epochs;

    @Option(names = "--train-per-kind", description = "Training diagrams per question kind (default 300).")
    Integer trainPerKind;

    @Option(names = "--variants", defaultValue = "all", description = "Rows to train: projector, lora,"
            + " llama-adapter or all (default ${DEFAULT-VALUE}); the projector row is always trained.")
    String variants;

    @Option(names = "--lettered", description = "The ScienceQA-style suite: six kinds (adding top/bottom and which"
            + " is bigger), shuffled options answered by letter, varied backgrounds.")
    boolean lettered;

    @Option(names = "--llm-lr", description = "Learning rate of the in-LLM adapters (default: 1e-3 for LoRA, the"
            + " projector's 5e-3 for LLaMA-Adapter).")
    Double llmLr;

    @Option(names = "--lora-targets", defaultValue = "q_proj,v_proj", description = "The LoRA row's modules"
            + " (default ${DEFAULT-VALUE}).")
    String loraTargets;

    @Option(names = "--json", description = "Print {accuracy, blind_accuracy, chance, seconds, bundle}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        DemoRunner.Settings d = DemoRunner.Settings.defaults();
        DemoRunner.Settings s = new DemoRunner.Settings(
                trainPerKind == null ? d.trainPerKind() : trainPerKind, d.testPerKind(),
                epochs == null ? d.epochs() : epochs, d.learningRate(), d.batchSize(), seed,
                DemoRunner.Variant.parse(variants), lettered, llmLr,
                dev.glimpse.language.LoraConfig.parseTargets(loraTargets));
        DemoRunner.Result r;
        PrintWriter log = json ? new PrintWriter(java.io.Writer.nullWriter()) : o;
        CliProgress[] bar = new CliProgress[1];
        try {
            r = DemoRunner.run(DemoKit.locate(), out.toAbsolutePath(), s, (phase, total) -> {
                if (bar[0] != null) {
                    bar[0].close();
                    bar[0] = null;
                }
                if (total <= 0) {
                    return dev.glimpse.core.Progress.NONE;
                }
                bar[0] = new CliProgress(phase, total, phase.equals("features") ? "img" : "step");
                return bar[0];
            }, log);
        } finally {
            if (bar[0] != null) {
                bar[0].close();
            }
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("accuracy", round(r.accuracy()));
            m.put("blind_accuracy", round(r.blindAccuracy()));
            m.put("chance", round(r.chance()));
            m.put("seconds", Math.round(r.seconds() * 10) / 10.0);
            m.put("bundle", r.bundle().toString());
            o.println(Json.write(m));
            return 0;
        }
        o.println();
        o.print(DemoRunner.table(r.table()));
        o.printf(Locale.ROOT, "%nheld-out accuracy %.1f %% (image-blind %.1f %%, chance %.1f %%) in %.0f s%n",
                100 * r.accuracy(), 100 * r.blindAccuracy(), 100 * r.chance(), r.seconds());
        o.println("\nthree new diagrams:");
        r.samples().forEach(x -> o.println("  " + x));
        o.println("\nbundle:      " + r.bundle() + "   (try: ./glimpse ask --model " + r.bundle()
                + " --image <png> --question \"What color is the ball?\" --choices \"red|blue|green|yellow\")");
        o.println("report:      " + r.report() + " and " + r.reportJson());
        o.println("charts:      " + r.chart() + " and " + r.lossCurve());
        return 0;
    }

    private static double round(double x) {
        return Math.round(x * 10000) / 10000.0;
    }
}
