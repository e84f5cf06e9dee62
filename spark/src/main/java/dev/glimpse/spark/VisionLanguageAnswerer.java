package dev.glimpse.spark;

import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.Answer;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A Spark ML transformer that answers image questions: an image column (binary, e.g. {@code binaryFile}'s
 * {@code content}, or a local path / {@code file:} URI), a question column and, optionally, choices (array of strings)
 * and context columns in; the answer text, its letter, the choices' probabilities (in choice order) and an error
 * column out. Rows with choices are scored by likelihood (batched, as {@link VisionLanguageModel#answer(List, List)});
 * rows without are answered by greedy generation, unless {@code requireChoices} is set. A row that cannot be answered
 * — an unreadable or oversized image, no question, no choices where they are required — gets null answers and the
 * cause in {@code error}; the job goes on.
 *
 * <p>Each executor JVM loads the model once ({@link ExecutorModels}) and its task threads share it: give an executor
 * {@code cores / threads} task slots (docs/spark.md).
 */
public final class VisionLanguageAnswerer extends Transformer implements DefaultParamsWritable {
    private final String uid;
    private final Param<String> model;
    private final Param<String> engine;
    private final Param<String> weights;
    private final Param<String> device;
    private final Param<String> dtype;
    private final IntParam threads;
    private final IntParam batchSize;
    private final Param<String> imageCol;
    private final Param<String> questionCol;
    private final Param<String> choicesCol;
    private final Param<String> contextCol;
    private final Param<String> answerCol;
    private final Param<String> letterCol;
    private final Param<String> probabilitiesCol;
    private final Param<String> errorCol;
    private final BooleanParam requireChoices;
    private final LongParam maxImageBytes;

    public VisionLanguageAnswerer() {
        this(Identifiable$.MODULE$.randomUID("glimpseAnswerer"));
    }

    public VisionLanguageAnswerer(String uid) {
        this.uid = uid;
        model = new Param<>(uid, "model", "bundle or LLaVA directory every executor sees, hub id, or sparkfiles:NAME");
        engine = new Param<>(uid, "engine", "LLM engine: djl or onnx (default: djl for fp32 weights)");
        weights = new Param<>(uid, "weights", "onnx weights: fp32, fp16, int8 or int4");
        device = new Param<>(uid, "device", "cpu or gpu (default: a GPU when the executor sees one)");
        dtype = new Param<>(uid, "dtype", "DJL compute type: fp32, fp16 or bf16");
        threads = new IntParam(uid, "threads", "engine threads per executor JVM (0: the engine's default)",
                ParamValidators.gtEq(0));
        batchSize = new IntParam(uid, "batchSize", "questions scored together", ParamValidators.gtEq(1));
        imageCol = new Param<>(uid, "imageCol", "image column: binary, or a local path / file: URI");
        questionCol = new Param<>(uid, "questionCol", "question column (string)");
        choicesCol = new Param<>(uid, "choicesCol", "choices column (array<string>); empty name: none");
        contextCol = new Param<>(uid, "contextCol", "context column (string); empty name: none");
        answerCol = new Param<>(uid, "answerCol", "output: the chosen choice's text, or the generated answer");
        letterCol = new Param<>(uid, "letterCol", "output: the chosen choice's letter");
        probabilitiesCol = new Param<>(uid, "probabilitiesCol", "output: each choice's probability, in order");
        errorCol = new Param<>(uid, "errorCol", "output: why a row has no answer (null when it has one)");
        requireChoices = new BooleanParam(uid, "requireChoices", "a row without choices is an error (not generated)");
        maxImageBytes = new LongParam(uid, "maxImageBytes", "images over this size are errors",
                ParamValidators.gtEq(1));
        setDefault(engine, "");
        setDefault(weights, "");
        setDefault(device, "");
        setDefault(dtype, "");
        setDefault(threads, 0);
        setDefault(batchSize, 8);
        setDefault(imageCol, "image");
        setDefault(questionCol, "question");
        setDefault(choicesCol, "choices");
        setDefault(contextCol, "");
        setDefault(answerCol, "answer");
        setDefault(letterCol, "letter");
        setDefault(probabilitiesCol, "probabilities");
        setDefault(errorCol, "error");
        setDefault(requireChoices, false);
        setDefault(maxImageBytes, ImageLoader.DEFAULT_MAX_BYTES);
    }

    @Override
    public String uid() {
        return uid;
    }

    // Spark finds params through public no-argument methods returning them
    public Param<String> model() { return model; }
    public Param<String> engine() { return engine; }
    public Param<String> weights() { return weights; }
    public Param<String> device() { return device; }
    public Param<String> dtype() { return dtype; }
    public IntParam threads() { return threads; }
    public IntParam batchSize() { return batchSize; }
    public Param<String> imageCol() { return imageCol; }
    public Param<String> questionCol() { return questionCol; }
    public Param<String> choicesCol() { return choicesCol; }
    public Param<String> contextCol() { return contextCol; }
    public Param<String> answerCol() { return answerCol; }
    public Param<String> letterCol() { return letterCol; }
    public Param<String> probabilitiesCol() { return probabilitiesCol; }
    public Param<String> errorCol() { return errorCol; }
    public BooleanParam requireChoices() { return requireChoices; }
    public LongParam maxImageBytes() { return maxImageBytes; }

    public VisionLanguageAnswerer setModel(String v) { set(model, v); return this; }
    public VisionLanguageAnswerer setEngine(String v) { set(engine, v); return this; }
    public VisionLanguageAnswerer setWeights(String v) { set(weights, v); return this; }
    public VisionLanguageAnswerer setDevice(String v) { set(device, v); return this; }
    public VisionLanguageAnswerer setDtype(String v) { set(dtype, v); return this; }
    public VisionLanguageAnswerer setThreads(int v) { set(threads, v); return this; }
    public VisionLanguageAnswerer setBatchSize(int v) { set(batchSize, v); return this; }
    public VisionLanguageAnswerer setImageCol(String v) { set(imageCol, v); return this; }
    public VisionLanguageAnswerer setQuestionCol(String v) { set(questionCol, v); return this; }
    public VisionLanguageAnswerer setChoicesCol(String v) { set(choicesCol, v); return this; }
    public VisionLanguageAnswerer setContextCol(String v) { set(contextCol, v); return this; }
    public VisionLanguageAnswerer setAnswerCol(String v) { set(answerCol, v); return this; }
    public VisionLanguageAnswerer setLetterCol(String v) { set(letterCol, v); return this; }
    public VisionLanguageAnswerer setProbabilitiesCol(String v) { set(probabilitiesCol, v); return this; }
    public VisionLanguageAnswerer setErrorCol(String v) { set(errorCol, v); return this; }
    public VisionLanguageAnswerer setRequireChoices(boolean v) { set(requireChoices, v); return this; }
    public VisionLanguageAnswerer setMaxImageBytes(long v) { set(maxImageBytes, v); return this; }

    private String str(Param<String> p) {
        return (String) getOrDefault(p);
    }

    private static String orNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /** The model these params name (checked on the driver: a bad engine or device fails before any task). */
    public ModelSpec modelSpec() {
        if (!isDefined(model)) {
            throw new BadInputException("VisionLanguageAnswerer: set model (a bundle directory, hub id or"
                    + " sparkfiles:NAME)");
        }
        return new ModelSpec(str(model), orNull(str(engine)), orNull(str(weights)), null, orNull(str(device)),
                orNull(str(dtype)), (Integer) getOrDefault(threads));
    }

    @Override
    public StructType transformSchema(StructType schema) {
        Columns.require(schema, str(imageCol), "imageCol", DataTypes.BinaryType, DataTypes.StringType);
        Columns.require(schema, str(questionCol), "questionCol", DataTypes.StringType);
        if (!str(choicesCol).isEmpty() && Columns.has(schema, str(choicesCol))) {
            Columns.require(schema, str(choicesCol), "choicesCol", DataTypes.createArrayType(DataTypes.StringType));
        }
        if (!str(contextCol).isEmpty()) {
            Columns.require(schema, str(contextCol), "contextCol", DataTypes.StringType);
        }
        return Columns.append(schema, List.of(str(answerCol), str(letterCol), str(probabilitiesCol), str(errorCol)),
                List.of(DataTypes.StringType, DataTypes.StringType,
                        DataTypes.createArrayType(DataTypes.DoubleType, false), DataTypes.StringType));
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType in = dataset.schema();
        StructType out = transformSchema(in);
        RowReader reader = new RowReader(in, str(imageCol), str(questionCol),
                str(choicesCol).isEmpty() || !Columns.has(in, str(choicesCol)) ? null : str(choicesCol),
                orNull(str(contextCol)), (Boolean) getOrDefault(requireChoices), (Long) getOrDefault(maxImageBytes));
        return dataset.toDF().mapPartitions(new AnswerPartition(modelSpec(), reader,
                (Integer) getOrDefault(batchSize)), Encoders.row(out));
    }

    @Override
    public VisionLanguageAnswerer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** The reader of a saved answerer (Spark ML's convention: {@code read().load(path)}). */
    public static MLReader<VisionLanguageAnswerer> read() {
        return new DefaultParamsReader<>();
    }

    /** Reads an answerer saved with {@code write().save(path)}. */
    public static VisionLanguageAnswerer load(String path) {
        return read().load(path);
    }

    /** A partition's rows in batches: each row's question (or its error), then one scoring pass per batch. */
    private record AnswerPartition(ModelSpec spec, RowReader reader, int batchSize)
            implements MapPartitionsFunction<Row, Row> {
        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            VisionLanguageModel vlm = ExecutorModels.get(spec).model();
            return new Batches<>(rows, batchSize, batch -> answer(vlm, batch));
        }

        private List<Row> answer(VisionLanguageModel vlm, List<Row> batch) {
            List<RowReader.Parsed> parsed = new ArrayList<>();
            List<Integer> ok = new ArrayList<>();
            for (Row r : batch) {
                RowReader.Parsed p = reader.parse(r);
                parsed.add(p);
                if (p.error() == null) {
                    ok.add(parsed.size() - 1);
                }
            }
            Object[][] outputs = new Object[batch.size()][];
            try {
                List<Question> qs = new ArrayList<>();
                List<BufferedImage> images = new ArrayList<>(); // the batch's images through the tower at once
                for (int i : ok) {
                    qs.add(parsed.get(i).question());
                    images.addAll(parsed.get(i).question().images());
                }
                java.util.Iterator<float[]> feats = vlm.features(images).iterator();
                List<List<float[]>> perQuestion = new ArrayList<>();
                for (Question q : qs) {
                    perQuestion.add(q.images().isEmpty() ? List.of() : List.of(feats.next()));
                }
                List<Answer> answers = qs.isEmpty() ? List.of() : vlm.answer(qs, perQuestion);
                for (int k = 0; k < ok.size(); k++) {
                    outputs[ok.get(k)] = answered(answers.get(k));
                }
            } catch (BadInputException e) {
                for (int i : ok) { // one row the model refuses (e.g. a prompt over its context): find it alone
                    outputs[i] = answerAlone(vlm, parsed.get(i).question());
                }
            }
            List<Row> result = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                Object[] o = outputs[i] != null ? outputs[i] : new Object[] {null, null, null, parsed.get(i).error()};
                result.add(Columns.appendValues(batch.get(i), o));
            }
            return result;
        }

        private static Object[] answerAlone(VisionLanguageModel vlm, Question q) {
            try {
                return answered(vlm.answer(q));
            } catch (BadInputException e) {
                return new Object[] {null, null, null, e.getMessage()};
            }
        }

        private static Object[] answered(Answer a) {
            double[] p = a.probabilities().values().stream().mapToDouble(Double::doubleValue).toArray();
            return new Object[] {a.text(), a.letter(), a.letter() == null ? null : p, null};
        }
    }
}
