package dev.glimpse.samples.cli;

import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.Predictions;
import dev.glimpse.eval.ReportWriter;
import dev.glimpse.eval.Scorer;
import dev.glimpse.eval.ScienceQaDataset;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate on ScienceQA exactly as the published scripts score it.",
        subcommands = {EvalCommand.Score.class, EvalRunCommand.class},
        footer = {"", "Examples:", "  glimpse eval score --questions llava_test_CQM-A.json --answers answers.jsonl",
            "  glimpse eval run --model runs/demo/bundle --questions llava_test_CQM-A.json --images images/"})
final class EvalCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static void print(EvalReport r, List<Path> files, boolean json, PrintWriter out) {
        if (json) {
            out.println(Json.write(ReportWriter.summary(r)));
            return;
        }
        out.printf(Locale.ROOT, "%d / %d correct = %.2f %% (policy %s); %d unparseable, %d missing%n", r.correct(),
                r.total(), r.accuracy(), r.policy(), r.unparseable(), r.missing());
        if (r.expectedAccuracy() != null) {
            out.printf(Locale.ROOT, "expected accuracy over the random fallback: %.2f %%%n", r.expectedAccuracy());
        }
        StringBuilder head = new StringBuilder();
        StringBuilder vals = new StringBuilder();
        for (Map.Entry<String, EvalReport.Category> e : r.byCategory().entrySet()) {
            head.append(String.format(Locale.ROOT, "%8s", e.getKey()));
            vals.append(String.format(Locale.ROOT, "%8.2f", e.getValue().accuracy()));
        }
        out.println(head);
        out.println(vals);
        if (!r.missingColumns().isEmpty()) {
            out.println("not computed without subject/grade metadata (pass --problems): "
                    + String.join(", ", r.missingColumns()));
        }
        out.println("published: " + String.join(", ", dev.glimpse.eval.Baselines.PUBLISHED.stream()
                .map(b -> String.format(Locale.ROOT, "%s %.2f", b.method(), b.average())).toList()));
        if (!r.issues().isEmpty()) {
            out.println(r.issues().size() + " input issue(s), first: " + r.issues().get(0));
        }
        for (Path f : files) {
            out.println("wrote " + f);
        }
    }

    @Command(name = "score", mixinStandardHelpOptions = true,
            description = "Score saved answers (LLaVA answer JSONL or ScienceQA result file) against the questions.",
            footer = {"", "Example:", "  glimpse eval score --questions llava_test_CQM-A.json --answers answers.jsonl "
                    + "--policy llava --out report/"})
    static final class Score implements Callable<Integer> {
        @Option(names = "--questions", required = true, description = "LLaVA question file or official problems.json.")
        Path questions;

        @Option(names = "--answers", required = true, description = "LLaVA answers (JSONL) or ScienceQA result JSON.")
        Path answers;

        @Option(names = "--problems", description = "problems.json for subject/grade columns.")
        Path problems;

        @Option(names = "--splits", description = "pid_splits.json (with an official problems.json).")
        Path splits;

        @Option(names = "--split", defaultValue = "test", description = "Split to score (default ${DEFAULT-VALUE}).")
        String split;

        @Option(names = "--policy", defaultValue = "llava", description = "llava | scienceqa | strict | recorded "
                + "(recorded: the result file's own predicted indices). Default ${DEFAULT-VALUE}.")
        String policy;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the scienceqa policy's random fallback.")
        long seed;

        @Option(names = "--out", description = "Directory for report.json/.md, questions.csv and the PNG chart.")
        Path out;

        @Option(names = "--json", description = "Print {correct,total,accuracy,unparseable,by_category}.")
        boolean json;

        @CommandLine.Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            ScienceQaDataset d = ScienceQaDataset.load(questions, problems, splits, split);
            Predictions p = Predictions.read(answers);
            EvalReport r = policy.equalsIgnoreCase("recorded") ? Scorer.scoreIndices(d, p, answers.toString())
                    : Scorer.scoreTexts(d, p, AnswerPolicy.parse(policy), seed, answers.toString());
            List<Path> files = out == null ? List.of() : ReportWriter.write(r, out);
            print(r, files, json, spec.commandLine().getOut());
            return 0;
        }
    }
}
