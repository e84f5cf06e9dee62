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
        ImageLoader loader = new ImageLoader();
        EvalReport r;
        try (VisionLanguageModel vlm = engineOptions.load(model);
             CliProgress bar = new CliProgress("eval", d.size(), "q")) {
            PromptTemplate t = switch (template.toLowerCase(java.util.Locale.ROOT)) {
                case "model" -> vlm.template();
                case "llava" -> PromptTemplate.LLAVA;
                case "options" -> PromptTemplate.LLAVA.withScoring(PromptTemplate.Scoring.OPTIONS);
                default -> throw new dev.glimpse.core.BadInputException("--template '" + template
                        + "': expected model, llava or options");
            };
            r = EvalRunner.run(d, images, ScienceQaContract.model(vlm, t, loader), sc, pol, out, bar);
        }
        List<Path> files = ReportWriter.write(r, out);
        EvalCommand.print(r, files, json, spec.commandLine().getOut());
        return 0;
    }
}
