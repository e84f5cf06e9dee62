package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelRepositoryTest {
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    @TempDir
    Path cache;
    FakeHub hub;
    byte[] config;
    byte[] weights;

    @BeforeEach
    void start() throws Exception {
        hub = new FakeHub();
        config = Files.readAllBytes(TestData.model("stories260k").resolve("config.json"));
        weights = Files.readAllBytes(TestData.model("stories260k").resolve("model.safetensors"));
        hub.file("karpathy/stories", COMMIT, "config.json", config, false)
                .file("karpathy/stories", COMMIT, "model.safetensors", weights, true)
                .file("karpathy/stories", COMMIT, "tokenizer.json",
                        Files.readAllBytes(TestData.model("stories260k").resolve("tokenizer.json")), false);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    ModelRepository repo(boolean offline, String token) {
        return ModelRepository.builder(Map.of()).endpoint(hub.endpoint()).cacheDir(cache).offline(offline)
                .token(token).build();
    }

    @Test
    void downloadsIntoAHuggingFaceShapedCacheAndReusesIt() throws Exception {
        Path snap = repo(false, null).resolve("karpathy/stories");
        Path repoDir = cache.resolve("models--karpathy--stories");
        assertEquals(repoDir.resolve("snapshots").resolve(COMMIT), snap);
        assertEquals(COMMIT, Files.readString(repoDir.resolve("refs/main")).trim());
        assertArrayEquals(weights, Files.readAllBytes(snap.resolve("model.safetensors")));
        assertTrue(Files.isSymbolicLink(snap.resolve("model.safetensors")));
        assertTrue(Files.isRegularFile(repoDir.resolve("blobs").resolve(FakeHub.sha256(weights))),
                "LFS blobs are named by sha256");
        assertTrue(Files.isRegularFile(snap.resolve("tokenizer.json")));
        assertFalse(Files.exists(snap.resolve("generation_config.json")), "absent optional files are skipped");
        try (Checkpoint c = Checkpoint.open(snap)) {
            assertEquals(47, c.tensors().size());
        }
        long gets = hub.count("GET", true);
        assertEquals(1, gets);
        // the second time nothing is downloaded again
        repo(false, null).resolve("karpathy/stories");
        assertEquals(gets, hub.count("GET", true));
        // and a pinned revision resolves too
        assertEquals(snap, repo(false, null).resolve("karpathy/stories@" + COMMIT));
    }

    @Test
    void resumesWithARangeRequestAfterACutConnection() throws Exception {
        hub.cutOnce(weights);
        Path snap = repo(false, null).resolve("karpathy/stories");
        assertArrayEquals(weights, Files.readAllBytes(snap.resolve("model.safetensors")));
        var storageGets = hub.requests.stream().filter(r -> r.storage() && r.method().equals("GET")).toList();
        assertEquals(2, storageGets.size(), storageGets.toString());
        assertNull(storageGets.get(0).range());
        // the second request resumes from what arrived before the cut (the socket may lose the last bytes sent)
        String range = storageGets.get(1).range();
        assertTrue(range != null && range.matches("bytes=\\d+-"), "a Range request: " + range);
        long from = Long.parseLong(range.substring(6, range.length() - 1));
        assertTrue(from > 0 && from <= weights.length / 2, "resumed from byte " + from);
        try (var ls = Files.list(cache.resolve("models--karpathy--stories/blobs"))) {
            assertTrue(ls.noneMatch(p -> p.toString().endsWith(".incomplete")));
        }
    }

    @Test
    void offlineModeUsesTheCacheOrSaysWhy() {
        GlimpseException e = assertThrows(GlimpseException.class, () -> repo(true, null).resolve("karpathy/stories"));
        assertTrue(e.getMessage().contains("not in the local cache") && e.getMessage().contains("HF_HUB_OFFLINE"),
                e.getMessage());
        assertEquals(0, hub.requests.size(), "offline mode sends nothing");
        Path snap = repo(false, null).resolve("karpathy/stories");
        int before = hub.requests.size();
        assertEquals(snap, repo(true, null).resolve("karpathy/stories"));
        assertEquals(before, hub.requests.size());
    }

    @Test
    void gatedRepositoryAsksForAToken() throws Exception {
        hub.requireToken("hf_secret");
        GlimpseException e = assertThrows(GlimpseException.class, () -> repo(false, null).resolve("karpathy/stories"));
        assertTrue(e.getMessage().contains("HTTP 401") && e.getMessage().contains("HF_TOKEN"), e.getMessage());
        Path snap = repo(false, "hf_secret").resolve("karpathy/stories");
        assertArrayEquals(config, Files.readAllBytes(snap.resolve("config.json")));
        assertTrue(hub.requests.stream().filter(FakeHub.Request::storage).allMatch(r -> r.authorization() == null),
                "the token never goes to the storage host a redirect points at");
    }

    @Test
    void unknownRepositoryOrFileIs404() {
        BadInputException e = assertThrows(BadInputException.class, () -> repo(false, null).resolve("nobody/nothing"));
        assertTrue(e.getMessage().contains("HTTP 404") && e.getMessage().contains("check the model id"),
                e.getMessage());
        e = assertThrows(BadInputException.class, () -> repo(false, null).resolve("not a path or id"));
        assertTrue(e.getMessage().contains("not a hub id"), e.getMessage());
    }

    @Test
    void corruptDownloadIsRefusedBySha256() {
        byte[] bad = weights.clone();
        bad[bad.length / 2] ^= 1;
        hub.corrupt(weights, bad);
        GlimpseException e = assertThrows(GlimpseException.class, () -> repo(false, null).resolve("karpathy/stories"));
        assertTrue(e.getMessage().contains("corrupt: sha256"), e.getMessage());
    }

    @Test
    void shardedRepositoryDownloadsEveryShard() throws Exception {
        byte[] a = new byte[1000];
        byte[] b = new byte[1500];
        new Random(1).nextBytes(a);
        new Random(2).nextBytes(b);
        Path tmp = cache.resolve("src");
        Files.createDirectories(tmp);
        new SafetensorsWriter().add("x", DType.U8, new long[] {a.length}, java.nio.ByteBuffer.wrap(a))
                .write(tmp.resolve("s1.safetensors"));
        new SafetensorsWriter().add("y", DType.U8, new long[] {b.length}, java.nio.ByteBuffer.wrap(b))
                .write(tmp.resolve("s2.safetensors"));
        String index = "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}}";
        hub.file("org/sharded", COMMIT, "config.json", config, false)
                .file("org/sharded", COMMIT, Checkpoint.INDEX, index.getBytes(), false)
                .file("org/sharded", COMMIT, "model-00001-of-00002.safetensors", Files.readAllBytes(tmp.resolve("s1.safetensors")), true)
                .file("org/sharded", COMMIT, "model-00002-of-00002.safetensors", Files.readAllBytes(tmp.resolve("s2.safetensors")), true);
        Path snap = repo(false, null).resolve("org/sharded");
        try (Checkpoint c = Checkpoint.open(snap)) {
            assertEquals(2, c.tensors().size());
            assertEquals(1500, c.info("y").byteLength());
        }
    }

    @Test
    void environmentVariablesAreHonoured() {
        ModelRepository r = ModelRepository.builder(Map.of("HF_HOME", "/tmp/hfhome", "HF_HUB_OFFLINE", "1")).build();
        assertEquals(Path.of("/tmp/hfhome/hub"), r.cacheDir());
        assertTrue(r.offline());
        r = ModelRepository.builder(Map.of("HF_HOME", "/tmp/hfhome", "HF_HUB_CACHE", "/tmp/hc")).build();
        assertEquals(Path.of("/tmp/hc"), r.cacheDir());
        assertFalse(r.offline());
    }

    @Test
    void rateLimitsAndServerErrorsAreRetriedAsTheServerAsks() {
        hub.failNext(2, 429, "1");
        long t = System.nanoTime();
        Path snap = repo(false, null).resolve("karpathy/stories");
        double waited = (System.nanoTime() - t) / 1e9;
        assertTrue(Files.isRegularFile(snap.resolve("model.safetensors")));
        assertTrue(waited >= 2.0, "two Retry-After: 1 waits, took " + waited + " s");
        // 5xx without Retry-After: exponential backoff from half a second, with jitter
        hub.failNext(2, 503, null);
        Path again = ModelRepository.builder(Map.of()).endpoint(hub.endpoint()).cacheDir(cache.resolve("second"))
                .build().resolve("karpathy/stories");
        assertTrue(Files.isRegularFile(again.resolve("config.json")));
        // a hub that keeps failing: a clear error after the retries, nothing half-written in the cache
        hub.failNext(100, 502, "0");
        GlimpseException e = assertThrows(GlimpseException.class, () -> ModelRepository.builder(Map.of())
                .endpoint(hub.endpoint()).cacheDir(cache.resolve("fresh")).build().resolve("karpathy/stories"));
        assertTrue(e.getMessage().contains("502"), e.getMessage());
        hub.failNext(0, 200, null);
    }

    @Test
    void retryWaitsFollowRetryAfterWithJitter() {
        for (int i = 0; i < 50; i++) {
            long w = ModelRepository.retryWaitMillis("2", 0);
            assertTrue(w >= 2000 && w <= 2500, "Retry-After: 2 gave " + w + " ms");
            long b = ModelRepository.retryWaitMillis(null, 3);
            assertTrue(b >= 4000 && b <= 5000, "backoff 3 gave " + b + " ms");
        }
        String date = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(
                java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusSeconds(3));
        long d = ModelRepository.retryWaitMillis(date, 0);
        assertTrue(d >= 1500 && d <= 4000, "an HTTP date 3 s ahead gave " + d + " ms");
        assertTrue(ModelRepository.retryWaitMillis("86400", 0) <= 60_000, "never more than a minute");
    }

    /** Child JVM: downloads a repository into a cache and prints the weights' path. */
    public static void main(String[] args) throws Exception {
        Path p = ModelRepository.builder(Map.of()).endpoint(args[0]).cacheDir(Path.of(args[1])).build()
                .resolve(args[2]);
        System.out.println(p.resolve("model.safetensors").toRealPath(java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void twoProcessesDownloadingTheSameFileEndWithOneCorrectCopy() throws Exception {
        byte[] big = new byte[3 << 20];
        new java.util.Random(5).nextBytes(big);
        hub.file("org/big", COMMIT, "config.json", config, false).file("org/big", COMMIT, "model.safetensors", big,
                true).slow(40);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        java.util.List<Process> ps = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
            ps.add(new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
                    ModelRepositoryTest.class.getName(), hub.endpoint(), cache.toString(), "org/big")
                    .redirectErrorStream(true).start());
        }
        for (Process p : ps) {
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
        }
        Path blob = cache.resolve("models--org--big/blobs").resolve(FakeHub.sha256(big));
        assertArrayEquals(big, Files.readAllBytes(blob));
        try (var ls = Files.list(blob.getParent())) {
            assertTrue(ls.noneMatch(p -> p.toString().endsWith(".incomplete")), "no partial file left");
        }
        long fullGets = hub.requests.stream().filter(r -> r.storage() && r.method().equals("GET")
                && r.path().endsWith(FakeHub.sha256(big))).count();
        assertEquals(1, fullGets, "one process downloaded; the other waited on the lock and found it done");
        assertTrue(Files.isRegularFile(cache.resolve(".locks/models--org--big").resolve(FakeHub.sha256(big)
                + ".lock")), "huggingface_hub's lock layout");
    }

    /**
     * A full disk, simulated for real: the downloading process runs under a file-size limit (ulimit -f, so writes fail
     * with EFBIG as they would with ENOSPC). No half file ends up in place of the blob; the partial download is kept
     * aside and a later run resumes it to the correct file.
     */
    @Test
    void aFullDiskDuringADownloadLeavesNoHalfFileInPlace() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash's ulimit");
        byte[] big = new byte[3 << 20];
        new java.util.Random(6).nextBytes(big);
        hub.file("org/full", COMMIT, "config.json", config, false).file("org/full", COMMIT, "model.safetensors", big,
                true);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cmd = "ulimit -f 1024; exec '" + javaBin + "' -XX:-UsePerfData -cp '" + System.getProperty("java.class.path")
                + "' " + ModelRepositoryTest.class.getName() + " " + hub.endpoint() + " '" + cache + "' org/full";
        Process p = new ProcessBuilder("/bin/bash", "-c", cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue(p.exitValue() != 0, "the download cannot fit: " + out);
        assertTrue(out.contains("File too large") || out.contains("No space"), out);
        Path blobs = cache.resolve("models--org--full/blobs");
        Path blob = blobs.resolve(FakeHub.sha256(big));
        assertFalse(Files.exists(blob), "no half file in place of the blob");
        assertFalse(Files.exists(cache.resolve("models--org--full/snapshots").resolve(COMMIT)
                .resolve("model.safetensors")), "no snapshot link to a missing blob");
        // with room again, the next run resumes what was written and ends with the correct file
        Path snap = repo(false, null).resolve("org/full");
        assertArrayEquals(big, Files.readAllBytes(snap.resolve("model.safetensors")));
        try (var ls = Files.list(blobs)) {
            assertTrue(ls.noneMatch(x -> x.toString().endsWith(".incomplete")));
        }
    }
}
