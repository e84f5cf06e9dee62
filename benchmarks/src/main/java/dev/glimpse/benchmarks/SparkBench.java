package dev.glimpse.benchmarks;

import dev.glimpse.core.Progress;
import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalRunner;
import dev.glimpse.eval.Problem;
import dev.glimpse.eval.ScienceQaContract;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.spark.ExecutorModels;
import dev.glimpse.spark.ModelSpec;
import dev.glimpse.spark.SparkScienceQa;
import dev.glimpse.spark.VisionLanguageAnswerer;
import dev.glimpse.vision.ImageLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * ScienceQA on Spark against one {@code eval run} process, side by side on the same questions (benchmarks/spark_eval.sh):
 * questions/s at local[1] and local[2] (and local[2] with one libtorch thread), the model-load time per executor JVM,
 * and the batched {@link VisionLanguageAnswerer} on the same image questions. Prints a Markdown table.
 * Args: BUNDLE SCIENCEQA_DIR (questions/llava_test_CQM-A.json, images/) N
 */
public final class SparkBench {
    private SparkBench() {}

    public static void main(String[] a) throws Exception {
        String bundle = Path.of(a[0]).toAbsolutePath().toString();
        Path sqa = Path.of(a[1]);
        int n = Integer.parseInt(a[2]);
        Path images = sqa.resolve("images");
        ScienceQaDataset all = ScienceQaDataset.load(sqa.resolve("questions/llava_test_CQM-A.json"), null, null, "test");
        List<String> ids = new ArrayList<>(); // questions whose image is here (or that have none)
        for (Problem p : all.problems()) {
            if (ids.size() < n && (!p.hasImage() || Files.isRegularFile(ScienceQaDataset.imagePath(p, images)))) {
                ids.add(p.id());
            }
        }
        ScienceQaDataset d = all.only(new LinkedHashSet<>(ids));
        long withImage = d.problems().stream().filter(Problem::hasImage).count();
        Path work = Files.createTempDirectory("glimpse-spark-bench");
        System.out.printf(Locale.ROOT, "%d ScienceQA questions (%d with an image), bundle %s, %d cores%n%n",
                d.size(), withImage, a[0], Runtime.getRuntime().availableProcessors());
        System.out.println("| run | load s | answer s | questions/s | × one process |");
        System.out.println("|---|---:|---:|---:|---:|");
        oneProcess(d, images, bundle, work.resolve("cold"), "one `eval run` process, a cold JVM (load: libtorch's"
                + " start included)", 0);
        double base = oneProcess(d, images, bundle, work.resolve("one"), "one `eval run` process, warm", 0);
        for (String[] run : new String[][] {{"local[1]", "0"}, {"local[2]", "0"}, {"local[2]", "1"}}) {
            SparkSession spark = SparkSession.builder().master(run[0]).appName("bench")
                    .config("spark.ui.enabled", "false").getOrCreate();
            spark.sparkContext().setLogLevel("WARN");
            ModelSpec spec = new ModelSpec(bundle, null, null, null, null, null, Integer.parseInt(run[1]));
            // Spark's own first-job costs (class loading, query compilation) paid once per application, untimed
            SparkScienceQa.run(spark, all.only(new LinkedHashSet<>(ids.subList(0, 4))), images, new SparkScienceQa
                    .Options(spec, "model", EvalRunner.Scoring.LIKELIHOOD, 0), AnswerPolicy.LLAVA,
                    work.resolve("warm" + run[0] + run[1]), Progress.NONE);
            ExecutorModels.clear();
            long t1 = System.nanoTime();
            SparkScienceQa.run(spark, d, images, new SparkScienceQa.Options(spec, "model",
                    EvalRunner.Scoring.LIKELIHOOD, 0), AnswerPolicy.LLAVA, work.resolve(run[0] + run[1]), Progress.NONE);
            double total = secs(t1);
            double load = ExecutorModels.get(spec).loadSeconds();
            row("Spark " + run[0] + (run[1].equals("0") ? "" : ", 1 libtorch thread") + " (load: the executor's)", load,
                    total - load, d.size() / (total - load), base);
            if (run[0].equals("local[2]") && run[1].equals("0")) {
                answerer(spark, all, images, bundle, n);
            }
            spark.stop();
            ExecutorModels.clear();
        }
        System.out.println();
        System.out.println("| image questions only | questions/s | × one process |");
        System.out.println("|---|---:|---:|");
        ANSWERER.forEach(System.out::println);
    }

    static final List<String> ANSWERER = new ArrayList<>();

    /** One process answering as {@code glimpse eval run} does; returns its questions/s. */
    static double oneProcess(ScienceQaDataset d, Path images, String bundle, Path out, String name, double base)
            throws Exception {
        long t0 = System.nanoTime();
        try (VisionLanguageModel vlm = VisionLanguageModel.builder().model(bundle).build()) {
            double load = secs(t0);
            long t1 = System.nanoTime();
            EvalRunner.run(d, images, ScienceQaContract.model(vlm, vlm.template(), new ImageLoader()),
                    EvalRunner.Scoring.LIKELIHOOD, AnswerPolicy.LLAVA, out, Progress.NONE);
            double answer = secs(t1);
            double qps = d.size() / answer;
            row(name, load, answer, qps, base > 0 ? base : qps);
            return qps;
        }
    }

    /** The batched transformer on the image questions against one process answering them one by one. */
    static void answerer(SparkSession spark, ScienceQaDataset all, Path images, String bundle, int n) {
        List<Row> rows = new ArrayList<>();
        List<Question> qs = new ArrayList<>();
        ImageLoader loader = new ImageLoader();
        for (Problem p : all.problems()) {
            if (qs.size() < n && p.hasImage() && Files.isRegularFile(ScienceQaDataset.imagePath(p, images))) {
                Path img = ScienceQaDataset.imagePath(p, images);
                rows.add(RowFactory.create(img.toString(), p.question(), p.choices()));
                qs.add(new Question(List.of(), p.question(), p.choices(), img.toString())); // the path, for now
            }
        }
        double base;
        try (VisionLanguageModel vlm = VisionLanguageModel.builder().model(bundle).build()) {
            // as the transformer does: read and decode each image, then answer (warm-up pass first)
            java.util.function.Consumer<Question> ask = q -> vlm.answer(new Question(List.of(loader.load(
                    Path.of(q.context()))), q.question(), q.choices(), ""));
            qs.forEach(ask);
            long t0 = System.nanoTime();
            qs.forEach(ask);
            base = qs.size() / secs(t0);
        }
        ANSWERER.add(String.format(Locale.ROOT, "| one process, VisionLanguageModel.answer one by one, image decoding included (%d) | %.1f |"
                + " 1.00 |", qs.size(), base));
        StructType schema = new StructType().add("image", DataTypes.StringType).add("question", DataTypes.StringType)
                .add("choices", DataTypes.createArrayType(DataTypes.StringType));
        Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(2).cache();
        df.count();
        new VisionLanguageAnswerer().setModel(bundle).transform(df.limit(4)).count(); // Spark's first-job costs
        for (int batch : new int[] {1, 8}) {
            long t1 = System.nanoTime();
            long done = new VisionLanguageAnswerer().setModel(bundle).setBatchSize(batch).transform(df)
                    .filter("error IS NULL").count();
            double qps = done / secs(t1);
            ANSWERER.add(String.format(Locale.ROOT, "| Spark local[2], VisionLanguageAnswerer, batch %d (%d) | %.1f |"
                    + " %.2f |", batch, done, qps, qps / base));
        }
    }

    static void row(String name, double load, double answer, double qps, double base) {
        System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.1f | %.2f |%n", name, load, answer, qps, qps / base);
    }

    static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
