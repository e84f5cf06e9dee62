package dev.glimpse.spark;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.vision.FeatureCache;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.VisionTower;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
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
 * A Spark ML transformer that runs a frozen vision tower over an image column (binary, or a local path /
 * {@code file:} URI): the features (array of floats, tokens × dim row-major), their shape, the image's content hash
 * (the feature cache's key) and an error column out. {@link #writeFeatureCache} gathers them into a feature cache in
 * {@code glimpse features}' layout, so a training set is encoded once across a cluster and read by
 * {@code glimpse train --features}. An unreadable or oversized image gets null features and its cause in the error
 * column; the job goes on.
 */
public final class VisionFeatureExtractor extends Transformer implements DefaultParamsWritable {
    private final String uid;
    private final Param<String> vision;
    private final Param<String> layer;
    private final BooleanParam keepCls;
    private final Param<String> device;
    private final IntParam batchSize;
    private final Param<String> imageCol;
    private final Param<String> featuresCol;
    private final Param<String> shapeCol;
    private final Param<String> keyCol;
    private final Param<String> errorCol;

    public VisionFeatureExtractor() {
        this(Identifiable$.MODULE$.randomUID("glimpseFeatures"));
    }

    public VisionFeatureExtractor(String uid) {
        this.uid = uid;
        vision = new Param<>(uid, "vision", "tower directory every executor sees (ONNX or CLIP/SigLIP), or"
                + " sparkfiles:NAME");
        layer = new Param<>(uid, "layer", "feature layer: -1, -2 (LLaVA's) or an ONNX output name");
        keepCls = new BooleanParam(uid, "keepCls", "keep CLIP's CLS token (LLaVA drops it)");
        device = new Param<>(uid, "device", "cpu or gpu (default: a GPU when the executor sees one)");
        batchSize = new IntParam(uid, "batchSize", "images through the tower at once", ParamValidators.gtEq(1));
        imageCol = new Param<>(uid, "imageCol", "image column: binary, or a local path / file: URI");
        featuresCol = new Param<>(uid, "featuresCol", "output: features, tokens x dim, row-major");
        shapeCol = new Param<>(uid, "shapeCol", "output: [tokens, dim]");
        keyCol = new Param<>(uid, "keyCol", "output: the image's sha256, the feature cache's key");
        errorCol = new Param<>(uid, "errorCol", "output: why a row has no features (null when it has them)");
        setDefault(layer, "-2");
        setDefault(keepCls, false);
        setDefault(device, "");
        setDefault(batchSize, 16);
        setDefault(imageCol, "image");
        setDefault(featuresCol, "features");
        setDefault(shapeCol, "shape");
        setDefault(keyCol, "key");
        setDefault(errorCol, "error");
    }

    @Override
    public String uid() {
        return uid;
    }

    // Spark finds params through public no-argument methods returning them
    public Param<String> vision() { return vision; }
    public Param<String> layer() { return layer; }
    public BooleanParam keepCls() { return keepCls; }
    public Param<String> device() { return device; }
    public IntParam batchSize() { return batchSize; }
    public Param<String> imageCol() { return imageCol; }
    public Param<String> featuresCol() { return featuresCol; }
    public Param<String> shapeCol() { return shapeCol; }
    public Param<String> keyCol() { return keyCol; }
    public Param<String> errorCol() { return errorCol; }

    public VisionFeatureExtractor setVision(String v) { set(vision, v); return this; }
    public VisionFeatureExtractor setLayer(String v) { set(layer, v); return this; }
    public VisionFeatureExtractor setKeepCls(boolean v) { set(keepCls, v); return this; }
    public VisionFeatureExtractor setDevice(String v) { set(device, v); return this; }
    public VisionFeatureExtractor setBatchSize(int v) { set(batchSize, v); return this; }
    public VisionFeatureExtractor setImageCol(String v) { set(imageCol, v); return this; }
    public VisionFeatureExtractor setFeaturesCol(String v) { set(featuresCol, v); return this; }
    public VisionFeatureExtractor setShapeCol(String v) { set(shapeCol, v); return this; }
    public VisionFeatureExtractor setKeyCol(String v) { set(keyCol, v); return this; }
    public VisionFeatureExtractor setErrorCol(String v) { set(errorCol, v); return this; }

    private String str(Param<String> p) {
        return (String) getOrDefault(p);
    }

    /** The tower these params name. */
    public TowerSpec towerSpec() {
        if (!isDefined(vision)) {
            throw new BadInputException("VisionFeatureExtractor: set vision (a tower directory or sparkfiles:NAME)");
        }
        String d = str(device);
        return new TowerSpec(str(vision), str(layer), !(Boolean) getOrDefault(keepCls), d.isEmpty() ? null : d);
    }

    @Override
    public StructType transformSchema(StructType schema) {
        Columns.require(schema, str(imageCol), "imageCol", DataTypes.BinaryType, DataTypes.StringType);
        return Columns.append(schema, List.of(str(featuresCol), str(shapeCol), str(keyCol), str(errorCol)),
                List.of(DataTypes.createArrayType(DataTypes.FloatType, false),
                        DataTypes.createArrayType(DataTypes.IntegerType, false), DataTypes.StringType,
                        DataTypes.StringType));
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType in = dataset.schema();
        StructType out = transformSchema(in);
        int col = in.fieldIndex(str(imageCol));
        boolean binary = in.apply(str(imageCol)).dataType().equals(DataTypes.BinaryType);
        return dataset.toDF().mapPartitions(new EncodePartition(towerSpec(), col, binary,
                (Integer) getOrDefault(batchSize)), Encoders.row(out));
    }

    @Override
    public VisionFeatureExtractor copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** The reader of a saved extractor (Spark ML's convention: {@code read().load(path)}). */
    public static MLReader<VisionFeatureExtractor> read() {
        return new DefaultParamsReader<>();
    }

    /** Reads an extractor saved with {@code write().save(path)}. */
    public static VisionFeatureExtractor load(String path) {
        return read().load(path);
    }

    /** What {@link #writeFeatureCache} did: features written, and each image that had none, with why. */
    public record Written(int written, List<String> failed, Path directory) {}

    /**
     * Gathers this extractor's output ({@code transformed}) into the feature cache under {@code root}, on the driver,
     * a row at a time (Spark's local iterator: one partition in memory at once): the layout, tower id and keys of
     * {@code glimpse features} with the same tower, so {@code glimpse train --features root} reads it.
     */
    public Written writeFeatureCache(Dataset<Row> transformed, Path root, DType dtype) {
        int written = 0;
        List<String> failed = new ArrayList<>();
        VisionTower tower = ExecutorModels.tower(towerSpec()).model();
        try (FeatureCache cache = FeatureCache.open(root, tower, dtype)) {
            Iterator<Row> rows = transformed.select(str(imageCol), str(featuresCol), str(keyCol), str(errorCol))
                    .toLocalIterator();
            while (rows.hasNext()) {
                Row r = rows.next();
                if (!r.isNullAt(3)) {
                    failed.add((r.get(0) instanceof String s ? s + ": " : "") + r.getString(3));
                    continue;
                }
                List<Float> f = r.getList(1);
                float[] v = new float[f.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = f.get(i);
                }
                cache.put(r.getString(2), v);
                written++;
            }
            return new Written(written, failed, cache.directory());
        }
    }

    /** A partition's images in batches through the executor's tower. */
    private record EncodePartition(TowerSpec spec, int col, boolean binary, int batchSize)
            implements MapPartitionsFunction<Row, Row> {
        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            VisionTower tower = ExecutorModels.tower(spec).model();
            return new Batches<>(rows, batchSize, batch -> encode(tower, batch));
        }

        private List<Row> encode(VisionTower tower, List<Row> batch) {
            ImageLoader loader = new ImageLoader();
            Object[][] outputs = new Object[batch.size()][];
            List<BufferedImage> images = new ArrayList<>();
            List<Integer> ok = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                Row r = batch.get(i);
                try {
                    if (r.isNullAt(col)) {
                        throw new BadInputException("image: null");
                    }
                    if (binary) {
                        byte[] b = (byte[]) r.get(col);
                        images.add(loader.load(b, "image (binary column)"));
                        keys.add(FeatureCache.contentHash(b));
                    } else {
                        String ref = r.getString(col);
                        Path p = ref.startsWith("file:") ? Path.of(URI.create(ref)) : Path.of(ref);
                        images.add(loader.load(p));
                        keys.add(FeatureCache.contentHash(p));
                    }
                    ok.add(i);
                } catch (BadInputException e) {
                    outputs[i] = new Object[] {null, null, null, e.getMessage()};
                } catch (RuntimeException e) { // a decoder's own failure on a hostile image
                    outputs[i] = new Object[] {null, null, null, "image: " + e};
                }
            }
            if (!images.isEmpty()) {
                dev.glimpse.vision.Features f = tower.encode(images);
                int[] shape = {tower.numTokens(), tower.hiddenSize()};
                for (int k = 0; k < ok.size(); k++) {
                    outputs[ok.get(k)] = new Object[] {f.image(k), shape, keys.get(k), null};
                }
            }
            List<Row> result = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                result.add(Columns.appendValues(batch.get(i), outputs[i]));
            }
            return result;
        }
    }
}
