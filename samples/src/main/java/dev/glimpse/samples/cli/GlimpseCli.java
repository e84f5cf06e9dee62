package dev.glimpse.samples.cli;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import java.io.PrintWriter;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code glimpse} command line. Exit codes: 0 success, 1 failure, 2 bad usage or input. */
@Command(name = "glimpse", mixinStandardHelpOptions = true, versionProvider = GlimpseCli.Version.class,
        description = "Give a frozen language model eyes: vision towers, frozen LLMs and trainable adapters in Java.",
        subcommands = {DemoCommand.class, AskCommand.class, InspectCommand.class, GenerateCommand.class,
            FeaturesCommand.class, TrainCommand.class, ServeCommand.class, CacheCommand.class,
            EvalCommand.class, ExportCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Examples:", "  glimpse demo", "  glimpse inspect samples/demo-kit/stories260k",
            "  glimpse generate --model samples/demo-kit/stories260k --prompt \"Once upon a time\""})
public final class GlimpseCli implements Runnable {
    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT, description = "Show stack traces and logs.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; returns the exit code (tests call this). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        GlimpseEngine.configureProperties();
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        quietLogs(verbose);
        CommandLine cli = new CommandLine(new GlimpseCli());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (verbose) {
                ex.printStackTrace(err);
            }
            Throwable t = ex;
            err.println("error: " + (t.getMessage() == null ? t.toString() : t.getMessage()));
            err.flush();
            return t instanceof BadInputException || t instanceof IllegalArgumentException ? 2 : 1;
        });
        cli.setParameterExceptionHandler((ex, a) -> {
            err.println("error: " + ex.getMessage());
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for more.");
            err.flush();
            return 2;
        });
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** Held strongly: java.util.logging forgets the level of loggers nobody references. */
    /** The model repository of the environment (HF_HOME, HF_HUB_OFFLINE, HF_TOKEN), with download bars. */
    static dev.glimpse.core.ModelRepository repository() {
        return dev.glimpse.core.ModelRepository.builder().progress(CliProgress.downloads()).build();
    }

    /** Loads a bundle, LLaVA checkpoint or hub id through {@link #repository()}. */
    static dev.glimpse.fusion.VisionLanguageModel loadModel(String name) {
        return dev.glimpse.fusion.VisionLanguageModel.builder().model(name).repository(repository()).build();
    }

    private static final Logger CUDA_LOGGER = Logger.getLogger("ai.djl.util.cuda.CudaUtils");

    private static void quietLogs(boolean verbose) {
        Logger root = LogManager.getLogManager().getLogger("");
        root.setLevel(verbose ? Level.INFO : Level.WARNING);
        for (var h : root.getHandlers()) {
            h.setLevel(verbose ? Level.ALL : Level.WARNING);
        }
        // DJL warns on every probe of a machine without a CUDA driver; that is the normal case here
        CUDA_LOGGER.setLevel(verbose ? Level.INFO : Level.SEVERE);
    }

    /** The version from the jar manifest, or the development version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = GlimpseCli.class.getPackage().getImplementationVersion();
            return new String[] {"glimpse " + (v == null ? "0.1.0-SNAPSHOT" : v),
                "Java " + System.getProperty("java.version") + ", DJL 0.36.0 (PyTorch 2.7.1), ONNX Runtime 1.29.0"};
        }
    }
}
