package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import dev.glimpse.core.TensorInfo;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResumeAndFaultTest {
    static final int STEPS = 12;

    static double maxAbsDiff(Path a, Path b) {
        double worst = 0;
        try (SafetensorsFile x = SafetensorsFile.open(a); SafetensorsFile y = SafetensorsFile.open(b)) {
            assertEquals(x.tensors().size(), y.tensors().size());
            for (TensorInfo t : x.tensors()) {
                float[] u = x.toFloats(t.name());
                float[] v = y.toFloats(t.name());
                for (int i = 0; i < u.length; i++) {
                    worst = Math.max(worst, Math.abs(u[i] - v[i]));
                }
            }
        }
        return worst;
    }

    @Test
    void sigkilledChildResumesToTheSameAdapter(@TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        AdapterTrainer.Result full = ToyTask.run(straight, false, STEPS, 0);
        assertEquals(STEPS, full.steps());
        assertTrue(full.finalLoss() < full.losses().get(0)[1], "the toy task is learnable");

        Path killed = dir.resolve("killed");
        Process child = startChild(killed, false, 150);
        // wait until it has checkpointed at least once and is mid-run, then SIGKILL it
        int seen = 0;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("STEP ")) {
                    seen = Integer.parseInt(line.substring(5));
                    if (seen >= 5 && Files.isRegularFile(killed.resolve(TrainingCheckpoint.FILE))) {
                        break;
                    }
                }
            }
        }
        child.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no flushing
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertTrue(seen >= 5 && seen < STEPS, "killed mid-run at step " + seen);
        assertFalse(Files.exists(killed.resolve("adapter.safetensors")), "the final adapter was not written yet");

        Process resume = startChild(killed, true, 0);
        String out = new String(resume.getInputStream().readAllBytes());
        assertTrue(resume.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, resume.exitValue(), out);
        assertTrue(out.contains("DONE"));
        double diff = maxAbsDiff(straight.resolve("adapter.safetensors"), killed.resolve("adapter.safetensors"));
        assertTrue(diff <= 1e-6, "resumed adapter differs from the uninterrupted one by " + diff);
        // the metrics hold each step once
        long rows = Files.readAllLines(killed.resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"loss\""))
                .count();
        assertEquals(STEPS, rows);
        assertTrue(Files.size(killed.resolve("loss_curve.png")) > 1000);
    }

    static Process startChild(Path out, boolean resume, long sleepMs, String... haltInWrite) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(javaBin, "-cp",
                System.getProperty("java.class.path"), "-Dai.djl.offline=true", "-Dglimpse.repo=" + TestData.repo(),
                ToyTask.class.getName(), out.toString(), Boolean.toString(resume), Integer.toString(STEPS),
                Long.toString(sleepMs)));
        if (haltInWrite.length > 0) {
            cmd.add(haltInWrite[0]);
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        return pb.start();
    }

    /**
     * Ten kills, each followed by a resume: five SIGKILLs at random moments of the run (0-3 steps in, plus 0-150 ms) and
     * five halts inside an atomic write (a checkpoint, the adapter, the final checkpoint). The last resume ends with the
     * weights of the uninterrupted run, each step logged once.
     */
    @Test
    void tenSigkillsAtRandomMomentsEndWithTheUninterruptedWeights(@TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        ToyTask.run(straight, false, STEPS, 0);
        Path run = dir.resolve("killed");
        java.util.SplittableRandom r = new java.util.SplittableRandom(42);
        java.util.List<String> moments = new java.util.ArrayList<>();
        for (int k = 0; k < 10; k++) {
            // odd kills: inside the 1st-3rd atomic write of the process (checkpoints, the adapter, the final
            // checkpoint); even ones: SIGKILL after a random delay
            boolean inWrite = k % 2 == 1;
            // the last one runs to the end and dies writing the final adapter
            String where = k == 9 ? "adapter.safetensors" : Integer.toString(1 + r.nextInt(3));
            Process child = inWrite ? startChild(run, true, 60, where) : startChild(run, k > 0, 60);
            int[] last = {-1};
            String[] halted = {null};
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("STEP ")) {
                            last[0] = Integer.parseInt(line.substring(5));
                        } else if (line.startsWith("HALT writing ")) {
                            halted[0] = line.substring("HALT writing ".length());
                        }
                    }
                } catch (java.io.IOException | NumberFormatException e) {
                    // killed mid-line
                }
            });
            reader.start();
            if (inWrite) {
                assertTrue(child.waitFor(120, TimeUnit.SECONDS));
                reader.join(10_000);
                moments.add(halted[0] != null ? "halted writing " + halted[0] + " after step " + last[0]
                        : "finished (exit " + child.exitValue() + ")");
                continue;
            }
            // a moment tied to the run's progress, not to the machine's speed: a few steps in, then up to 150 ms
            int target = r.nextInt(4);
            int first = -1;
            while (child.isAlive()) {
                if (last[0] >= 0 && first < 0) {
                    first = last[0];
                }
                // near the end, kill at once: a run that finishes here leaves nothing for the last kill to hit
                if (first >= 0 && (last[0] >= first + target || last[0] >= STEPS - 2)) {
                    break;
                }
                Thread.sleep(2);
            }
            long delay = r.nextInt(150);
            if (last[0] >= STEPS - 2) {
                delay = 0;
            }
            Thread.sleep(delay);
            boolean alive = child.isAlive();
            child.destroyForcibly(); // SIGKILL
            assertTrue(child.waitFor(60, TimeUnit.SECONDS));
            reader.join(10_000);
            moments.add(alive ? "killed " + delay + " ms after step " + last[0] : "finished");
        }
        System.out.println("SIGKILL moments: " + moments);
        Process resume = startChild(run, true, 0);
        String out = new String(resume.getInputStream().readAllBytes());
        assertTrue(resume.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, resume.exitValue(), out);
        assertTrue(moments.stream().filter(m -> m.startsWith("killed") || m.startsWith("halted")).count() >= 7,
                "most kills hit a live run: " + moments);
        assertTrue(moments.stream().anyMatch(m -> m.startsWith("halted writing .checkpoint")),
                "a kill landed inside a checkpoint write: " + moments);
        assertTrue(moments.get(9).startsWith("halted writing .adapter.safetensors"), "the last one inside the final"
                + " adapter write: " + moments);
        double diff = maxAbsDiff(straight.resolve("adapter.safetensors"), run.resolve("adapter.safetensors"));
        assertTrue(diff <= 1e-6, "after " + moments + " the adapter differs from the uninterrupted one by " + diff);
        long rows = Files.readAllLines(run.resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"loss\""))
                .count();
        assertEquals(STEPS, rows, "each step logged once");
        try (var ls = Files.list(run)) {
            assertTrue(ls.noneMatch(x -> x.getFileName().toString().endsWith(".tmp")), "killed writes left no"
                    + " temporary files behind once resumed");
        }
    }

    /** A damaged latest checkpoint (a flipped bit, then a truncation) is detected and the previous one used. */
    @Test
    void aDamagedLatestCheckpointFallsBackToThePreviousOne(@TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        ToyTask.run(straight, false, STEPS, 0);
        for (String damage : new String[] {"flip", "truncate"}) {
            Path run = dir.resolve(damage);
            ToyTask.run(run, false, STEPS, 0);
            Path latest = run.resolve(TrainingCheckpoint.FILE);
            assertTrue(Files.isRegularFile(run.resolve(TrainingCheckpoint.PREVIOUS)), "the previous one is kept");
            byte[] b = Files.readAllBytes(latest);
            if (damage.equals("flip")) {
                b[b.length - 5] ^= 0x10; // one bit of an AdamW moment
                Files.write(latest, b);
            } else {
                Files.write(latest, java.util.Arrays.copyOf(b, b.length / 2));
            }
            Files.delete(run.resolve("adapter.safetensors"));
            AdapterTrainer.Result res = ToyTask.run(run, true, STEPS, 0);
            assertTrue(Files.isRegularFile(run.resolve(TrainingCheckpoint.DAMAGED)), "the damaged one is set aside");
            assertEquals(STEPS, res.steps());
            double diff = maxAbsDiff(straight.resolve("adapter.safetensors"), run.resolve("adapter.safetensors"));
            assertTrue(diff <= 1e-6, damage + ": the adapter differs from the uninterrupted one by " + diff);
        }
        // both damaged: a clear refusal naming both
        Path run = dir.resolve("flip");
        for (String f : new String[] {TrainingCheckpoint.FILE, TrainingCheckpoint.PREVIOUS}) {
            Path p = run.resolve(f);
            byte[] b = Files.readAllBytes(p);
            b[b.length - 9] ^= 0x04;
            Files.write(p, b);
        }
        dev.glimpse.core.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.glimpse.core.BadInputException.class, () -> ToyTask.run(run, true, STEPS, 0));
        assertTrue(e.getMessage().contains("both checkpoints are unusable") && e.getMessage().contains("SHA-256"),
                e.getMessage());
    }

    /**
     * A full disk during a checkpoint write, simulated for real (the child runs under ulimit -f, so the write fails
     * with EFBIG as it would with ENOSPC): the run stops with an error, no torn checkpoint or temporary file is left,
     * and a resume with room again ends with the uninterrupted weights.
     */
    @Test
    void aFullDiskDuringACheckpointWriteLeavesNoHalfFile(@TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash's ulimit");
        Path straight = dir.resolve("straight");
        ToyTask.run(straight, false, STEPS, 0);
        Path run = dir.resolve("full");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cmd = "ulimit -f 40; exec '" + javaBin + "' -XX:-UsePerfData -cp '" + System.getProperty("java.class.path")
                + "' -Dai.djl.offline=true -Dglimpse.repo='" + TestData.repo() + "' " + ToyTask.class.getName() + " '"
                + run + "' false " + STEPS + " 0";
        Process p = new ProcessBuilder("/bin/bash", "-c", cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertTrue(p.exitValue() != 0 && out.contains("File too large") && out.contains(TrainingCheckpoint.FILE),
                "the checkpoint cannot fit: " + out);
        try (var ls = Files.list(run)) {
            java.util.List<String> names = ls.map(x -> x.getFileName().toString()).toList();
            assertFalse(names.contains(TrainingCheckpoint.FILE), "no torn checkpoint in place: " + names);
            assertTrue(names.stream().noneMatch(n -> n.endsWith(".tmp")), "no temporary file left: " + names);
        }
        ToyTask.run(run, true, STEPS, 0);
        double diff = maxAbsDiff(straight.resolve("adapter.safetensors"), run.resolve("adapter.safetensors"));
        assertTrue(diff <= 1e-6, "with room again the run ends as the uninterrupted one; differs by " + diff);
    }

    /** A damaged final adapter is named when read, and resuming the finished run writes it again from its checkpoint. */
    @Test
    void aDamagedFinalAdapterIsDetectedAndRewrittenByResuming(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        ToyTask.run(run, false, STEPS, 0);
        Path adapter = run.resolve("adapter.safetensors");
        byte[] good = Files.readAllBytes(adapter);
        byte[] bad = good.clone();
        bad[bad.length - 3] ^= 0x01;
        Files.write(adapter, bad);
        dev.glimpse.core.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.glimpse.core.BadInputException.class, () -> {
                    try (SafetensorsFile f = SafetensorsFile.open(adapter)) {
                        f.verify(true);
                    }
                });
        assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
        AdapterTrainer.Result r = ToyTask.run(run, true, STEPS, 0);
        assertEquals(STEPS, r.steps(), "nothing trained again");
        assertTrue(java.util.Arrays.equals(good, Files.readAllBytes(adapter)), "the adapter is written again, intact");
    }

    @Test
    void resumingAFinishedRunChangesNothing(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        ToyTask.run(a, false, 6, 0);
        byte[] before = Files.readAllBytes(a.resolve("adapter.safetensors"));
        AdapterTrainer.Result r = ToyTask.run(a, true, 6, 0);
        assertEquals(6, r.steps());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(a.resolve("adapter.safetensors"))));
    }
}
