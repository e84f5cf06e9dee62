package dev.glimpse.training;

import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.Progress;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.language.CausalLM;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A small, fully deterministic training task on the real stories260k LM: 4-token "images" whose features encode a
 * colour, and the question what colour it is. Used by the resume and fault tests (also as a child JVM's main).
 */
final class ToyTask {
    static final String[] COLOURS = {"red", "blue", "green", "yellow"};
    static final int TOKENS = 4;
    static final int DIM = 16;

    final List<TrainingExample> examples = new ArrayList<>();
    final Map<String, float[]> features = new HashMap<>();

    ToyTask(int n, long seed) {
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(COLOURS.length);
            float[] f = new float[TOKENS * DIM];
            for (int k = 0; k < f.length; k++) {
                f[k] = (float) (r.nextGaussian() * 0.1 + (k % DIM == c ? 1.0 : 0.0));
            }
            String key = "img" + i;
            features.put(key, f);
            examples.add(new TrainingExample("ex" + i, List.of(key), "<image>\nThe ball is", " " + COLOURS[c]));
        }
    }

    static CausalLM lm() {
        return CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(), DataType.FLOAT32);
    }

    static TrainingOptions options(int steps) {
        return TrainingOptions.builder().batchSize(4).gradientAccumulation(2).learningRate(5e-3).weightDecay(0.01)
                .warmupRatio(0.1).clipNorm(1.0).maxSteps(steps).checkpointEvery(3).seed(7).build();
    }

    static AdapterTrainer.Result run(Path out, boolean resume, int steps, long sleepMs) {
        ToyTask task = new ToyTask(40, 11);
        try (CausalLM lm = lm()) {
            Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, DIM, lm.config().hiddenSize(), false, 3);
            AdapterTrainer t = new AdapterTrainer(lm, p, options(steps));
            Progress slow = (done, total, status) -> {
                System.out.println("STEP " + done);
                System.out.flush();
                if (sleepMs > 0) {
                    try {
                        Thread.sleep(sleepMs);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            };
            return t.train(task.examples, task.features::get, TOKENS, out, resume, slow, null);
        }
    }

    /**
     * Child JVM entry: out dir, resume flag, steps, sleep per step in ms, and optionally where to halt (as SIGKILL
     * does: no shutdown hooks, nothing flushed) while an atomic write is under way, i.e. while its temporary file
     * exists: a number k (the k-th write of this process) or a file name (its first write, e.g. adapter.safetensors).
     */
    public static void main(String[] args) {
        Path out = Path.of(args[0]);
        if (args.length > 4) {
            haltDuringWrite(out, args[4]);
        }
        run(out, Boolean.parseBoolean(args[1]), Integer.parseInt(args[2]), Long.parseLong(args[3]));
        System.out.println("DONE");
    }

    private static void haltDuringWrite(Path out, String spec) {
        int k = spec.matches("\\d+") ? Integer.parseInt(spec) : -1;
        Thread t = new Thread(() -> {
            java.util.Set<String> seen = new java.util.HashSet<>();
            try (var ls = java.nio.file.Files.list(out)) {
                ls.forEach(p -> seen.add("old:" + p.getFileName())); // leftovers of earlier kills are not this write
            } catch (java.io.IOException e) {
                // a fresh run: nothing there yet
            }
            int before = seen.size();
            // inotify hears a temporary file the moment it is created (a listing can miss a short write); the
            // listing stays for a run whose folder does not exist yet
            java.nio.file.WatchService watch = null;
            while (true) {
                java.util.List<String> names = new java.util.ArrayList<>();
                try {
                    if (watch == null && java.nio.file.Files.isDirectory(out)) {
                        watch = out.getFileSystem().newWatchService();
                        out.register(watch, java.nio.file.StandardWatchEventKinds.ENTRY_CREATE);
                    }
                    java.nio.file.WatchKey key = watch == null ? null : watch.poll(1, TimeUnit.MILLISECONDS);
                    if (key != null) {
                        key.pollEvents().forEach(e -> names.add(String.valueOf(e.context())));
                        key.reset();
                    }
                    try (var ls = java.nio.file.Files.list(out)) {
                        ls.forEach(p -> names.add(p.getFileName().toString()));
                    }
                } catch (java.io.IOException | java.io.UncheckedIOException e) {
                    // the directory is not there yet, or a file vanished while listed
                } catch (InterruptedException e) {
                    return;
                }
                for (String n : names) {
                    if (n.startsWith(".") && n.endsWith(".tmp") && !seen.contains("old:" + n) && seen.add(n)
                            && (k > 0 ? seen.size() - before == k : n.startsWith("." + spec + "."))) {
                        System.out.println("HALT writing " + n);
                        System.out.flush();
                        Runtime.getRuntime().halt(137);
                    }
                }
                Thread.onSpinWait();
            }
        }, "halt-during-write");
        t.setDaemon(true);
        t.start();
    }
}
