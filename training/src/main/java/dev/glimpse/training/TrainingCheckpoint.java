package dev.glimpse.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.Parameters;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything needed to continue a run exactly, in one file written atomically: projector weights, AdamW moments,
 * and (in the header metadata) the optimizer step, epoch, position in the epoch's batch order, plan and seed.
 */
record TrainingCheckpoint(int step, int epoch, int batchIndex, int plannedSteps, long seed) {
    static final String FILE = "checkpoint.safetensors";
    /** The checkpoint before the latest, kept so that a damaged latest one costs a few steps, not the run. */
    static final String PREVIOUS = "checkpoint.previous.safetensors";
    static final String DAMAGED = "checkpoint.damaged.safetensors";
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TrainingCheckpoint.class);

    static void write(Path file, Parameters params, AdamW adam, LossScaler scaler, int step, int epoch,
                      int batchIndex, int planned, long seed) {
        SafetensorsWriter w = new SafetensorsWriter().withChecksum().metadata("format", "glimpse-train-state/2")
                .metadata("step", Integer.toString(step)).metadata("epoch", Integer.toString(epoch))
                .metadata("batch_index", Integer.toString(batchIndex)).metadata("planned_steps", Integer.toString(planned))
                .metadata("seed", Long.toString(seed)).metadata("adam_step", Long.toString(adam.step()));
        if (scaler.enabled()) {
            // the scale is a power of two times the initial one: its decimal form reads back exactly
            w.metadata("loss_scale", Double.toString(scaler.scale()))
                    .metadata("loss_scale_good_steps", Integer.toString(scaler.goodSteps()));
        }
        for (Map.Entry<String, float[]> e : params.values().entrySet()) {
            long[] shape = params.shape(e.getKey());
            w.add("param." + e.getKey(), DType.F32, shape, e.getValue());
            float[] m = adam.firstMoments().get(e.getKey());
            float[] v = adam.secondMoments().get(e.getKey());
            if (m != null) {
                w.add("adam_m." + e.getKey(), DType.F32, shape, m);
                w.add("adam_v." + e.getKey(), DType.F32, shape, v);
            }
        }
        Path previous = file.resolveSibling(PREVIOUS);
        try {
            if (Files.isRegularFile(file)) {
                // the latest becomes the previous; a crash from here on leaves one of the two intact
                Files.move(file, previous, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new GlimpseException("cannot keep " + file + " as " + previous + ": " + e.getMessage(), e);
        }
        w.write(file);
    }

    /** Whether {@code dir} holds a checkpoint to resume from (the latest, or only the previous one). */
    static boolean existsIn(Path dir) {
        return Files.isRegularFile(dir.resolve(FILE)) || Files.isRegularFile(dir.resolve(PREVIOUS));
    }

    /**
     * Restores the latest checkpoint in {@code dir}; when it is missing, truncated or fails its checksum, the previous
     * one (with a warning): the run then repeats a few steps and ends where it would have.
     */
    static TrainingCheckpoint restore(Path dir, Parameters params, AdamW adam, LossScaler scaler) {
        Path latest = dir.resolve(FILE);
        Path previous = dir.resolve(PREVIOUS);
        BadInputException first = null;
        if (Files.isRegularFile(latest)) {
            try {
                return read(latest, params, adam, scaler);
            } catch (BadInputException e) {
                if (!Files.isRegularFile(previous) || e.getMessage().contains("resume with the same")) {
                    throw e; // a settings mismatch is the user's to fix, not a damaged file
                }
                first = e;
                Path aside = dir.resolve(DAMAGED);
                try {
                    // set aside for inspection, so that it never becomes the "previous" of the next write
                    Files.move(latest, aside, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException io) {
                    throw new GlimpseException("cannot set the damaged " + latest + " aside: " + io.getMessage(), io);
                }
                LOG.warn("{}; resuming from the previous checkpoint {} instead (the damaged one is kept as {})",
                        e.getMessage(), previous, aside);
            }
        }
        try {
            return read(previous, params, adam, scaler);
        } catch (BadInputException e) {
            if (first != null) {
                e.addSuppressed(first);
                throw new BadInputException("both checkpoints are unusable: " + first.getMessage() + "; and "
                        + e.getMessage(), e);
            }
            throw e;
        }
    }

    static TrainingCheckpoint read(Path file, Parameters params, AdamW adam, LossScaler scaler) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> meta = f.metadata();
            // /2 always carries a checksum; /1 (written before checksums) is still resumed
            f.verify("glimpse-train-state/2".equals(meta.get("format")) || f.hasChecksum());
            if (!"glimpse-train-state/2".equals(meta.get("format")) && !"glimpse-train-state/1".equals(meta.get("format"))) {
                throw new BadInputException(file + ": not a Glimpse training checkpoint");
            }
            Map<String, float[]> m = new LinkedHashMap<>();
            Map<String, float[]> v = new LinkedHashMap<>();
            for (dev.glimpse.core.TensorInfo t : f.tensors()) {
                if (t.name().startsWith("param.") && !params.contains(t.name().substring("param.".length()))) {
                    throw new BadInputException(file + ": holds parameter '" + t.name().substring(6) + "' that this"
                            + " run does not train (resume with the same projector and LLM adapter settings)");
                }
            }
            for (Map.Entry<String, float[]> e : params.values().entrySet()) {
                String k = e.getKey();
                if (!f.contains("param." + k)) {
                    throw new BadInputException(file + ": no parameter '" + k + "' (resume with the same projector and"
                            + " LLM adapter settings)");
                }
                float[] saved = f.toFloats("param." + k);
                if (saved.length != e.getValue().length) {
                    throw new BadInputException(file + ": parameter '" + k + "' has " + saved.length
                            + " values; the run being resumed has " + e.getValue().length
                            + " (resume with the same projector settings)");
                }
                System.arraycopy(saved, 0, e.getValue(), 0, saved.length);
                if (f.contains("adam_m." + k)) {
                    m.put(k, f.toFloats("adam_m." + k));
                    v.put(k, f.toFloats("adam_v." + k));
                }
            }
            adam.restore(Long.parseLong(meta.get("adam_step")), m, v);
            if (meta.containsKey("loss_scale")) { // written by an fp16 run; other precisions have no scale to restore
                scaler.restore(Double.parseDouble(meta.get("loss_scale")),
                        Integer.parseInt(meta.getOrDefault("loss_scale_good_steps", "0")));
            }
            return new TrainingCheckpoint(Integer.parseInt(meta.get("step")), Integer.parseInt(meta.get("epoch")),
                    Integer.parseInt(meta.get("batch_index")), Integer.parseInt(meta.get("planned_steps")),
                    Long.parseLong(meta.get("seed")));
        }
    }

    /** Drops metric rows logged after the checkpoint (their steps will run again); returns the kept losses. */
    static List<double[]> trimMetrics(Path metrics, int step) {
        List<double[]> losses = new ArrayList<>();
        if (!Files.isRegularFile(metrics)) {
            return losses;
        }
        try {
            ObjectMapper json = new ObjectMapper();
            StringBuilder kept = new StringBuilder();
            for (String line : Files.readAllLines(metrics)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n;
                try {
                    n = json.readTree(line);
                } catch (IOException e) {
                    continue; // a line torn by the interruption
                }
                if (n.path("step").asInt() <= step && !n.path("final").asBoolean(false)) {
                    kept.append(line).append('\n');
                    if (n.has("loss")) {
                        losses.add(new double[] {n.get("step").asDouble(), n.get("loss").asDouble()});
                    }
                }
            }
            AtomicFile.writeString(metrics, kept.toString());
            return losses;
        } catch (IOException e) {
            throw new GlimpseException("cannot read " + metrics + ": " + e.getMessage(), e);
        }
    }
}
