package dev.glimpse.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.FeatureCache;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.VisionTower;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark ML transformers on a real local[2] session (one for the class) and the demo bundle: the answers equal the
 * single-machine model's for the same rows, bad rows end with an error and never fail the job, the features equal
 * {@code glimpse features}' and land in a feature cache {@code glimpse train} reads.
 */
class SparkTransformersTest {
    static final Path BUNDLE = TestData.repo().resolve("samples/demo-kit/bundle");
    static final Path IMAGES = TestData.fixture("images");
    static SparkSession spark;
    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("glimpse-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
        ExecutorModels.clear();
    }

    static final StructType QUESTIONS = new StructType().add("id", DataTypes.StringType)
            .add("image", DataTypes.StringType).add("question", DataTypes.StringType)
            .add("choices", DataTypes.createArrayType(DataTypes.StringType));

    static List<Row> goodRows() {
        List<Row> rows = new ArrayList<>();
        String[] files = {"sqa_10555.png", "sqa_10671.png", "sqa_12365.png", "sqa_13204.png", "synthetic_gray.png"};
        for (int i = 0; i < 10; i++) {
            List<String> choices = i % 3 == 0 ? List.of("a bar chart", "a pie chart") : List.of("red", "green", "blue");
            rows.add(RowFactory.create("q" + i, IMAGES.resolve(files[i % files.length]).toString(),
                    i % 2 == 0 ? "What kind of picture is this?" : "Which color is shown most?", choices));
        }
        return rows;
    }

    @Test
    void answersEqualTheSingleMachineModelsAndBadRowsGetAnError() throws Exception {
        List<Row> rows = new ArrayList<>(goodRows());
        Path corrupt = Files.write(dir.resolve("corrupt.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        rows.add(RowFactory.create("corrupt", corrupt.toString(), "What is it?", List.of("a", "b")));
        long limit = 0;
        for (Row r : goodRows()) {
            limit = Math.max(limit, Files.size(Path.of(r.getString(1))));
        }
        java.awt.image.BufferedImage noise = new java.awt.image.BufferedImage(400, 400,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.util.Random rnd = new java.util.Random(1);
        for (int y = 0; y < 400; y++) {
            for (int x = 0; x < 400; x++) {
                noise.setRGB(x, y, rnd.nextInt());
            }
        }
        Path big = dir.resolve("big.png");
        javax.imageio.ImageIO.write(noise, "png", big.toFile()); // incompressible: far over the limit
        rows.add(RowFactory.create("oversized", big.toString(), "What is it?", List.of("a", "b")));
        rows.add(RowFactory.create("missing", dir.resolve("nope.png").toString(), "What is it?", List.of("a", "b")));
        rows.add(RowFactory.create("no-question", IMAGES.resolve("sqa_10555.png").toString(), " ", List.of("a")));
        rows.add(RowFactory.create("no-choices", IMAGES.resolve("sqa_10555.png").toString(), "What?", null));
        rows.add(RowFactory.create("remote", "s3a://bucket/x.png", "What?", List.of("a", "b")));
        Dataset<Row> df = spark.createDataFrame(rows, QUESTIONS).repartition(2);
        // one question at a time (batch 1), then three scored together (left-padded into one batch)
        Map<String, Row> alone = answers(df, 1, limit);
        Map<String, Row> batched = answers(df, 3, limit);
        assertEquals(rows.size(), alone.size(), "every row comes back");
        for (String bad : List.of("corrupt", "oversized", "missing", "no-question", "no-choices", "remote")) {
            Row r = batched.get(bad);
            assertNull(r.getAs("answer"), bad);
            assertNotNull(r.getAs("error"), bad);
        }
        assertTrue(batched.get("oversized").<String>getAs("error").contains("over the image size limit"));
        assertTrue(batched.get("no-choices").<String>getAs("error").contains("requireChoices"));
        assertTrue(batched.get("remote").<String>getAs("error").contains("binaryFile"));
        // the single-machine model on the same rows
        try (VisionLanguageModel vlm = VisionLanguageModel.builder().model(BUNDLE.toString()).build()) {
            ImageLoader loader = new ImageLoader();
            double worstAlone = 0;
            double worstBatched = 0;
            for (Row in : goodRows()) {
                @SuppressWarnings("unchecked")
                List<String> choices = (List<String>) in.get(3); // a row made here holds a Java list
                Answer a = vlm.answer(new Question(List.of(loader.load(Path.of(in.getString(1)))), in.getString(2),
                        choices, ""));
                for (Row r : List.of(alone.get(in.getString(0)), batched.get(in.getString(0)))) {
                    assertNull(r.getAs("error"), in.getString(0));
                    assertEquals(a.text(), r.getAs("answer"));
                    assertEquals(a.letter(), r.getAs("letter"));
                }
                worstAlone = Math.max(worstAlone, maxDiff(alone.get(in.getString(0)), a));
                worstBatched = Math.max(worstBatched, maxDiff(batched.get(in.getString(0)), a));
            }
            System.out.printf("Spark answers vs VisionLanguageModel.answer, 10 rows: max |probability diff| %.2e one"
                    + " at a time, %.2e in batches of 3%n", worstAlone, worstBatched);
            assertTrue(worstAlone <= 1e-6, "probabilities within 1e-6; max " + worstAlone);
            // batched scoring pads prompts to a common length, which reorders fp32 sums (BatchScoringTest holds
            // log-likelihoods to 1e-4): probabilities here to 1e-5
            assertTrue(worstBatched <= 1e-5, "batched probabilities within 1e-5; max " + worstBatched);
        }
    }

    static Map<String, Row> answers(Dataset<Row> df, int batch, long maxBytes) {
        Map<String, Row> got = new java.util.HashMap<>();
        new VisionLanguageAnswerer().setModel(BUNDLE.toString()).setBatchSize(batch).setRequireChoices(true)
                .setMaxImageBytes(maxBytes).transform(df).collectAsList().forEach(r -> got.put(r.getString(0), r));
        return got;
    }

    static double maxDiff(Row r, Answer a) {
        List<Double> p = r.getList(r.fieldIndex("probabilities"));
        List<Double> want = new ArrayList<>(a.probabilities().values());
        assertEquals(want.size(), p.size());
        double worst = 0;
        for (int i = 0; i < want.size(); i++) {
            worst = Math.max(worst, Math.abs(p.get(i) - want.get(i)));
        }
        return worst;
    }

    @Test
    void binaryImagesAndGenerationWithoutChoices() throws Exception {
        Dataset<Row> files = spark.read().format("binaryFile").load(IMAGES.resolve("sqa_13204.png").toString());
        Dataset<Row> q = files.selectExpr("path", "content", "'What is in the picture?' AS question");
        List<Row> out = new VisionLanguageAnswerer().setModel(BUNDLE.toString()).setImageCol("content")
                .transform(q).collectAsList();
        assertEquals(1, out.size());
        Row r = out.get(0);
        assertNull(r.getAs("error"));
        assertNull(r.getAs("letter"), "no choices: generated, no letter");
        try (VisionLanguageModel vlm = VisionLanguageModel.builder().model(BUNDLE.toString()).build()) {
            Answer a = vlm.answer(Question.of(new ImageLoader().load(IMAGES.resolve("sqa_13204.png")),
                    "What is in the picture?", List.of()));
            assertEquals(a.text(), r.getAs("answer"));
        }
    }

    @Test
    void aModelShippedWithAddFileIsFoundThroughSparkFiles() throws Exception {
        // the demo kit whole (the bundle names its tower and LLM by relative paths), as a job would ship it
        spark.sparkContext().addFile(TestData.repo().resolve("samples/demo-kit").toString(), true);
        Dataset<Row> df = spark.createDataFrame(goodRows().subList(0, 3), QUESTIONS);
        List<Row> shipped = new VisionLanguageAnswerer().setModel("sparkfiles:demo-kit/bundle").transform(df)
                .collectAsList();
        Map<String, Row> local = answers(df, 8, ImageLoader.DEFAULT_MAX_BYTES);
        for (Row r : shipped) {
            assertNull(r.getAs("error"));
            assertEquals(local.get(r.getString(0)).<String>getAs("letter"), r.getAs("letter"));
        }
        // a model that is not there fails its task (not a row: no row can be answered), naming what is missing
        Exception e = assertThrows(Exception.class, () -> new VisionLanguageAnswerer()
                .setModel("sparkfiles:not-shipped").transform(df).collectAsList());
        String all = e.toString() + (e.getCause() == null ? "" : e.getCause().toString());
        assertTrue(all.contains("sparkfiles:not-shipped: not among the files shipped"), all);
    }

    @Test
    void paramsAreCheckedOnTheDriverAndTheAnswererSavesAndLoads() throws Exception {
        Dataset<Row> df = spark.createDataFrame(goodRows(), QUESTIONS);
        BadInputException e = assertThrows(BadInputException.class, () -> new VisionLanguageAnswerer()
                .setModel(BUNDLE.toString()).setImageCol("picture").transform(df));
        assertTrue(e.getMessage().contains("imageCol: no column 'picture'"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> new VisionLanguageAnswerer().setModel(BUNDLE.toString())
                .setDevice("tpu").transform(df));
        assertTrue(e.getMessage().contains("device 'tpu'"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> new VisionLanguageAnswerer().transform(df));
        assertTrue(e.getMessage().contains("set model"), e.getMessage());
        VisionLanguageAnswerer a = new VisionLanguageAnswerer().setModel(BUNDLE.toString()).setBatchSize(5)
                .setAnswerCol("reply");
        Path saved = dir.resolve("answerer");
        a.write().save(saved.toString());
        VisionLanguageAnswerer back = VisionLanguageAnswerer.load(saved.toString());
        assertEquals(a.uid(), back.uid());
        assertEquals(5, (Integer) back.getOrDefault(back.batchSize()));
        assertEquals("reply", back.getOrDefault(back.answerCol()));
        assertEquals(a.modelSpec(), back.modelSpec());
    }

    @Test
    void featuresEqualGlimpseFeaturesAndFillTheFeatureCache() throws Exception {
        List<Row> rows = new ArrayList<>();
        for (String f : List.of("sqa_10555.png", "sqa_10671.png", "sqa_12365.png", "synthetic_rgba.png")) {
            rows.add(RowFactory.create(IMAGES.resolve(f).toString()));
        }
        rows.add(RowFactory.create(dir.resolve("absent.png").toString()));
        Dataset<Row> df = spark.createDataFrame(rows, new StructType().add("image", DataTypes.StringType));
        String tower = TestData.repo().resolve("samples/demo-kit/mobilenet-v2-features").toString();
        VisionFeatureExtractor fx = new VisionFeatureExtractor().setVision(tower).setLayer("block_13_hidden_state")
                .setBatchSize(2);
        List<Row> out = fx.transform(df.repartition(2)).collectAsList();
        assertEquals(5, out.size());
        Path cacheRoot = dir.resolve("cache");
        VisionFeatureExtractor.Written w = fx.writeFeatureCache(fx.transform(df), cacheRoot, DType.F32);
        assertEquals(4, w.written());
        assertEquals(1, w.failed().size());
        assertTrue(w.failed().get(0).contains("absent.png"), w.failed().toString());
        try (VisionTower t = VisionTower.open(Path.of(tower), "block_13_hidden_state", true);
             FeatureCache single = FeatureCache.open(dir.resolve("single"), t, DType.F32);
             FeatureCache spark = FeatureCache.open(cacheRoot, t, DType.F32)) {
            List<Path> files = rows.subList(0, 4).stream().map(r -> Path.of(r.getString(0))).toList();
            single.encodeAll(files, 4, dev.glimpse.core.Progress.NONE);
            double worst = 0;
            for (Path f : files) {
                String key = FeatureCache.contentHash(f);
                float[] want = single.get(key);
                float[] got = spark.get(key);
                assertNotNull(got, f.toString());
                for (int i = 0; i < want.length; i++) {
                    worst = Math.max(worst, Math.abs(want[i] - got[i]));
                }
                Row r = out.stream().filter(x -> x.getString(0).equals(f.toString())).findFirst().orElseThrow();
                List<Integer> shape = r.getList(r.fieldIndex("shape"));
                assertEquals(List.of(t.numTokens(), t.hiddenSize()), shape);
                assertEquals(key, r.getAs("key"));
            }
            System.out.printf("Spark features vs glimpse features: max |diff| %.2e%n", worst);
            fx.write().overwrite().save(dir.resolve("extractor").toString());
            VisionFeatureExtractor back = VisionFeatureExtractor.load(dir.resolve("extractor").toString());
            assertEquals(fx.towerSpec(), back.towerSpec());
            assertEquals(2, (Integer) back.getOrDefault(back.batchSize()));
            assertTrue(worst <= 1e-5, "fp32 features within 1e-5 (batches of 2 against 4); max " + worst);
        }
    }
}
