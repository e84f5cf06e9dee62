package dev.glimpse.samples.cli;

import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.EvalRunner;
import dev.glimpse.eval.ReportWriter;
import dev.glimpse.eval.ScienceQaContract;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Answer ScienceQA questions with a model and score them; resumable (answers.jsonl is appended"
                + " as it goes, a restart skips done ids).",
        footer = {"", "Example:", "  glimpse eval run --model runs/sqa --questions llava_test_CQM-A.json "
                + "--images scienceqa/images --scoring likelihood --out runs/sqa-eval"})
final class EvalRunCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Bundle dir, LLaVA checkpoint dir, or hub id.")
    String model;

    @picocli.CommandLine.Mixin
    EngineOptions engineOptions = new EngineOptions();

    @Option(names = "--questions", required = true, description = "LLaVA question file or official problems.json.")
    Path questions;

    @Option(names = "--images", required = true, description = "Image root (images/<split>/<pid>/image.png or <pid>/…).")
    Path images;

    @Option(names = "--problems", description = "problems.json for subject/grade columns.")
    Path problems;

    @Option(names = "--splits", description = "pid_splits.json (with an official problems.json).")
    Path splits;

    @Option(names = "--split", defaultValue = "test")
    String split;

    @Option(names = "--template", defaultValue = "model", description = "The prompt contract: model (the one the"
            + " bundle was trained with), llava (LLaVA-1.5's letters), or options (LLaVA's prompt, choices scored by"
            + " their text).")
    String template;

    @Option(names = "--scoring", defaultValue = "likelihood", description = "likelihood (the likeliest choice) |"
            + " generate (parsed by --policy).")
    String scoring;

    @Option(names = "--policy", defaultValue = "llava", description = "Answer parsing for generate: llava | scienceqa"
            + " | strict.")
    String policy;

    @Option(names = "--limit", defaultValue = "0", description = "Only the first N questions (0: all).")
    int limit;

    @Option(names = "--out", required = true)
    Path out;

    @Option(names = "--spark", paramLabel = "MASTER", description = "Answer on Apache Spark (local[N], or a cluster's"
            + " master URL; Spark on the class path: docs/spark.md): the same answers.jsonl and report as without.")
    String spark;

    @Option(names = "--spark-partitions", defaultValue = "0", description = "Partitions of the questions (0: Spark's"
            + " default parallelism).")
    int sparkPartitions;

    @Option(names = "--json", description = "Print {correct,total,accuracy,unparseable,by_category}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ScienceQaDataset d = ScienceQaDataset.load(questions, problems, splits, split);
        if (limit > 0 && limit < d.size()) {
            d = d.only(new LinkedHashSet<>(d.problems().subList(0, limit).stream().map(p -> p.id()).toList()));
        }
        EvalRunner.Scoring sc = EvalRunner.Scoring.parse(scoring);
        AnswerPolicy pol = AnswerPolicy.parse(policy);
        EvalReport r = spark != null ? onSpark(d, sc, pol) : here(d, sc, pol);
        List<Path> files = ReportWriter.write(r, out);
        EvalCommand.print(r, files, json, spec.commandLine().getOut());
        return 0;
    }

    /** The run in this process. */
    private EvalReport here(ScienceQaDataset d, EvalRunner.Scoring sc, AnswerPolicy pol) {
        try (VisionLanguageModel vlm = engineOptions.load(model);
             CliProgress bar = new CliProgress("eval", d.size(), "q")) {
            PromptTemplate t = ScienceQaContract.template(template, vlm.template());
            return EvalRunner.run(d, images, ScienceQaContract.model(vlm, t, new ImageLoader()), sc, pol, out, bar);
        }
    }

    /** The same run with the answering on Spark (glimpse-spark), loaded only when asked for. */
    private EvalReport onSpark(ScienceQaDataset d, EvalRunner.Scoring sc, AnswerPolicy pol) {
        try {
            Class.forName("org.apache.spark.sql.SparkSession", false, getClass().getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new dev.glimpse.core.BadInputException("--spark needs Apache Spark on the class path: set SPARK_HOME"
                    + " for ./glimpse, or run through spark-submit (docs/spark.md)");
        }
        Path local = Path.of(model);
        String ref = java.nio.file.Files.exists(local) ? local.toAbsolutePath().normalize().toString() : model;
        String dt = engineOptions.dataType() == null ? null : dev.glimpse.core.Precision.name(engineOptions.dataType());
        dev.glimpse.spark.ModelSpec m = new dev.glimpse.spark.ModelSpec(ref,
                engineOptions.effectiveEngine().name().toLowerCase(java.util.Locale.ROOT),
                engineOptions.weights.name().toLowerCase(java.util.Locale.ROOT), engineOptions.accuracyLevel, null, dt, 0);
        try (CliProgress bar = new CliProgress("eval", d.size(), "q")) {
            return dev.glimpse.spark.SparkScienceQa.runOn(spark, d, images, new dev.glimpse.spark.SparkScienceQa.Options(
                    m, template, sc, sparkPartitions), pol, out, bar);
        }
    }
}
