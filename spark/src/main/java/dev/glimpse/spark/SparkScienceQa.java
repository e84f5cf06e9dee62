package dev.glimpse.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Progress;
import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.EvalRunner;
import dev.glimpse.eval.Problem;
import dev.glimpse.eval.ScienceQaContract;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code glimpse eval run} on Spark: the questions not yet answered become a DataFrame (id, question, choices, image
 * and the whole problem), each executor answers its partitions with {@link EvalRunner#answerOne} — the unit the
 * single-process run executes, with the same model, template and scoring — and the driver appends the answers to
 * {@code answers.jsonl} in the dataset's order and scores them with the same code. Same questions, same answers, same
 * report. The work goes out in chunks (16 questions per partition, doubling while a chunk takes under 15 s), so answers
 * reach the file as they are made and an interrupted run resumes where it stopped, as the single-process run does.
 *
 * <p>The images directory and the model must be on a path every executor sees (or the model shipped as
 * {@code sparkfiles:NAME}): docs/spark.md.
 */
public final class SparkScienceQa {
    /**
     * Questions per partition in the first Spark job; each next job doubles it while jobs take under
     * {@link #CHUNK_SECONDS} (each job plans and compiles its query, ~0.1–1 s, so small chunks cost throughput), up to
     * {@link #MAX_CHUNK_PER_PARTITION}: answers reach the file about every {@code CHUNK_SECONDS} or sooner.
     */
    static final int CHUNK_PER_PARTITION = 16;
    static final int MAX_CHUNK_PER_PARTITION = 1024;
    static final double CHUNK_SECONDS = 30;

    static final StructType SCHEMA = new StructType().add("id", DataTypes.StringType)
            .add("question", DataTypes.StringType).add("choices", DataTypes.createArrayType(DataTypes.StringType))
            .add("image", DataTypes.StringType).add("problem", DataTypes.StringType);
    static final StructType ANSWERS = new StructType().add("id", DataTypes.StringType)
            .add("prompt", DataTypes.StringType).add("text", DataTypes.StringType).add("issue", DataTypes.StringType)
            .add("image", DataTypes.StringType);

    /**
     * How to answer: the model, the template by name ({@code model}, {@code llava}, {@code options}), the scoring, and
     * the partitions (0: Spark's default parallelism).
     */
    public record Options(ModelSpec model, String template, EvalRunner.Scoring scoring, int partitions)
            implements java.io.Serializable {
        public Options {
            ScienceQaContract.template(template, dev.glimpse.fusion.PromptTemplate.LLAVA); // the name, checked here
            if (partitions < 0) {
                throw new BadInputException("partitions: " + partitions + " is negative");
            }
        }
    }

    private SparkScienceQa() {}

    /** Answers and scores {@code data} on {@code spark}; writes {@code outDir/answers.jsonl} as eval run does. */
    public static EvalReport run(SparkSession spark, ScienceQaDataset data, Path imagesDir, Options options,
                                 AnswerPolicy policy, Path outDir, Progress progress) {
        return EvalRunner.run(data, todo -> new Chunks(spark, todo, imagesDir.toAbsolutePath().toString(), options),
                policy, outDir, progress);
    }

    /**
     * As {@link #run(SparkSession, ScienceQaDataset, Path, Options, AnswerPolicy, Path, Progress)} on a session of
     * its own at {@code master} (e.g. {@code local[2]} or a cluster's URL), stopped at the end: what
     * {@code glimpse eval run --spark} calls (no Spark type in its signature, so a CLI without Spark loads).
     */
    public static EvalReport runOn(String master, ScienceQaDataset data, Path imagesDir, Options options,
                                   AnswerPolicy policy, Path outDir, Progress progress) {
        // Spark logs at INFO by default; the CLI's own progress bar tells how far the run is
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(org.apache.logging.log4j.Level.WARN);
        // DJL warns on every probe of a machine without a CUDA driver, the normal case (as the CLI quiets it)
        org.apache.logging.log4j.core.config.Configurator.setLevel("ai.djl.util.cuda.CudaUtils",
                org.apache.logging.log4j.Level.ERROR);
        SparkSession spark = SparkSession.builder().master(master).appName("glimpse eval run").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        try {
            return run(spark, data, imagesDir, options, policy, outDir, progress);
        } finally {
            spark.stop();
        }
    }

    /** The answers of {@code todo} in its order, a Spark job per chunk. */
    private static final class Chunks implements Iterator<EvalRunner.Answered> {
        private final SparkSession spark;
        private final List<Problem> todo;
        private final String images;
        private final Options options;
        private final int partitions;
        private int next;
        private int perPartition = CHUNK_PER_PARTITION;
        private Iterator<EvalRunner.Answered> current = Collections.emptyIterator();

        Chunks(SparkSession spark, List<Problem> todo, String images, Options options) {
            this.spark = spark;
            this.todo = todo;
            this.images = images;
            this.options = options;
            this.partitions = options.partitions() > 0 ? options.partitions()
                    : spark.sparkContext().defaultParallelism();
        }

        @Override
        public boolean hasNext() {
            while (!current.hasNext() && next < todo.size()) {
                int end = Math.min(todo.size(), next + partitions * perPartition);
                long t0 = System.nanoTime();
                current = answer(todo.subList(next, end)).iterator();
                next = end;
                if ((System.nanoTime() - t0) / 1e9 < CHUNK_SECONDS / 2) {
                    perPartition = Math.min(MAX_CHUNK_PER_PARTITION, perPartition * 2);
                }
            }
            return current.hasNext();
        }

        @Override
        public EvalRunner.Answered next() {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            return current.next();
        }

        private List<EvalRunner.Answered> answer(List<Problem> chunk) {
            ObjectMapper json = new ObjectMapper();
            List<Row> rows = new ArrayList<>();
            try {
                for (Problem p : chunk) {
                    rows.add(RowFactory.create(p.id(), p.question(), p.choices().toArray(new String[0]), p.image(),
                            json.writeValueAsString(p)));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            // parallelize keeps the order: partition i holds the i-th slice, and collect returns them in order
            Dataset<Row> questions = spark.createDataFrame(new JavaSparkContext(spark.sparkContext())
                    .parallelize(rows, Math.min(partitions, rows.size())), SCHEMA);
            List<EvalRunner.Answered> out = new ArrayList<>();
            for (Row r : questions.mapPartitions(new AnswerPartition(options, images), Encoders.row(ANSWERS))
                    .collectAsList()) {
                out.add(new EvalRunner.Answered(r.getString(0), r.getString(1), r.getString(2), r.getString(3),
                        r.getString(4)));
            }
            return out;
        }
    }

    /** An executor's share: each problem answered by the executor's model, as the single-process run does. */
    private record AnswerPartition(Options options, String images) implements MapPartitionsFunction<Row, Row> {
        @Override
        public Iterator<Row> call(Iterator<Row> rows) throws IOException {
            VisionLanguageModel vlm = ExecutorModels.get(options.model()).model();
            EvalRunner.Model model = ScienceQaContract.model(vlm,
                    ScienceQaContract.template(options.template(), vlm.template()), new ImageLoader());
            ObjectMapper json = new ObjectMapper();
            List<Row> out = new ArrayList<>();
            while (rows.hasNext()) {
                Problem p = json.readValue(rows.next().getString(4), Problem.class);
                EvalRunner.Answered a = EvalRunner.answerOne(model, p, Path.of(images), options.scoring());
                out.add(RowFactory.create(a.id(), a.prompt(), a.text(), a.issue(), a.image()));
            }
            return out.iterator();
        }
    }
}
