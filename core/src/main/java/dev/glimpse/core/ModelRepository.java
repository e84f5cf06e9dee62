package dev.glimpse.core;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Turns what a user names as a model — a local directory or file, or a Hugging Face hub id
 * {@code org/name[@revision]} — into a local directory. The cache has Hugging Face's layout
 * ({@code <cache>/models--org--name/{blobs,snapshots/<commit>,refs}}), so an existing cache is reused and ours is
 * usable by Python tools. Honours HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN and HF_ENDPOINT.
 *
 * <p>Downloads happen only when a hub id is resolved that is not cached; they resume with HTTP Range requests
 * after a cut connection, verify the sha256 the server states for LFS files and land atomically.
 *
 * <p>Immutable and thread-safe; two threads resolving the same uncached file may both download it (the last
 * atomic rename wins, and both copies are verified).
 */
public final class ModelRepository {
    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+(@[^\\s/]+)?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    /** Files that make up a model besides its weights; missing ones are fine. */
    private static final List<String> OPTIONAL_FILES = List.of("generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "preprocessor_config.json", "chat_template.jinja",
            "adapter_config.json", "projector_config.json");
    private static final int ATTEMPTS = 4;
    /** Retries of one request answered 429 or 5xx before the error is reported. */
    private static final int RETRIES = 5;

    private final URI endpoint;
    private final Path cacheDir;
    private final boolean offline;
    private final String token;
    private final Progress progress;
    private final HttpClient http;

    private ModelRepository(Builder b) {
        this.endpoint = URI.create(b.endpoint.endsWith("/") ? b.endpoint.substring(0, b.endpoint.length() - 1)
                : b.endpoint);
        this.cacheDir = b.cacheDir;
        this.offline = b.offline;
        this.token = b.token;
        this.progress = b.progress;
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(20)).build();
    }

    /** Settings from the environment, as huggingface_hub reads them. */
    public static ModelRepository fromEnvironment() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder(System.getenv());
    }

    public static Builder builder(Map<String, String> env) {
        return new Builder(env);
    }

    public Path cacheDir() {
        return cacheDir;
    }

    public boolean offline() {
        return offline;
    }

    /** Whether {@code name} looks like a hub id rather than a path. */
    public static boolean isHubId(String name) {
        return HUB_ID.matcher(name).matches() && !Files.exists(Path.of(name));
    }

    /**
     * Resolves a local path (returned as is) or a hub id to a local snapshot directory, downloading the model's
     * config, weights (single or sharded), tokenizer and processor files when they are not cached.
     */
    public Path resolve(String name) {
        Path local = Path.of(name);
        if (Files.exists(local)) {
            return local;
        }
        if (!HUB_ID.matcher(name).matches()) {
            throw new BadInputException(name + ": no such file or directory, and not a hub id of the form"
                    + " org/name[@revision]");
        }
        int at = name.indexOf('@');
        String repo = at < 0 ? name : name.substring(0, at);
        String revision = at < 0 ? "main" : name.substring(at + 1);
        return snapshot(repo, revision);
    }

    /** Downloads (or finds in the cache) a whole model snapshot of {@code repo} at {@code revision}. */
    public Path snapshot(String repo, String revision) {
        Optional<Path> cached = cachedSnapshot(repo, revision);
        if (offline) {
            return cached.filter(p -> Files.isRegularFile(p.resolve("config.json")) || Checkpoint.existsIn(p))
                    .orElseThrow(() -> new BadInputException("model '" + repo + "@" + revision
                            + "' is not in the local cache (" + repoDir(repo)
                            + ") and offline mode is on (HF_HUB_OFFLINE); run once with network access to"
                            + " download it, or pass a local directory"));
        }
        try {
            Path snap = fetch(repo, revision, "config.json", true).getParent();
            Optional<Path> index = fetchOptional(repo, revision, Checkpoint.INDEX);
            if (index.isPresent()) {
                for (String shard : shardNames(index.get())) {
                    fetch(repo, revision, shard, true);
                }
            } else if (fetchOptional(repo, revision, Checkpoint.SINGLE).isEmpty()) {
                // an ONNX-only tower repository is fine too
                if (fetchOptional(repo, revision, "vision_model.onnx").isEmpty()) {
                    throw new BadInputException(repo + "@" + revision + ": has neither " + Checkpoint.SINGLE
                            + " nor " + Checkpoint.INDEX + " (Glimpse reads safetensors checkpoints)");
                }
            }
            for (String f : OPTIONAL_FILES) {
                fetchOptional(repo, revision, f);
            }
            return snap;
        } catch (NetworkUnavailable e) {
            return cached.orElseThrow(() -> new GlimpseException("cannot reach " + endpoint + " to download '" + repo
                    + "' and it is not in the local cache (" + repoDir(repo) + "): " + e.getMessage()));
        }
    }

    /** The cached snapshot of {@code repo} at {@code revision}, if any. */
    public Optional<Path> cachedSnapshot(String repo, String revision) {
        Path dir = repoDir(repo);
        String commit = revision;
        if (!COMMIT.matcher(revision).matches()) {
            Path ref = dir.resolve("refs").resolve(revision);
            if (!Files.isRegularFile(ref)) {
                return Optional.empty();
            }
            try {
                commit = Files.readString(ref).trim();
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        Path snap = dir.resolve("snapshots").resolve(commit);
        return Files.isDirectory(snap) ? Optional.of(snap) : Optional.empty();
    }

    /** {@code <cache>/models--org--name}. */
    public Path repoDir(String repo) {
        return cacheDir.resolve("models--" + repo.replace("/", "--"));
    }

    private static List<String> shardNames(Path index) {
        TreeSet<String> names = new TreeSet<>();
        try {
            JsonNode map = JsonFields.MAPPER.readTree(index.toFile()).get("weight_map");
            if (map == null || !map.isObject()) {
                throw new BadInputException(index + ": missing object 'weight_map'");
            }
            map.elements().forEachRemaining(v -> {
                String s = v.asText();
                if (s.isEmpty() || s.contains("/") || s.contains("\\") || s.startsWith(".")) {
                    throw new BadInputException(index + ": weight_map names an unsafe shard file '" + s + "'");
                }
                names.add(s);
            });
        } catch (IOException e) {
            throw new BadInputException(index + ": not valid JSON: " + e.getMessage(), e);
        }
        return new ArrayList<>(names);
    }

    private Optional<Path> fetchOptional(String repo, String revision, String file) {
        try {
            return Optional.of(fetch(repo, revision, file, false));
        } catch (NotOnHub e) {
            return Optional.empty();
        }
    }

    private static final class NotOnHub extends BadInputException {
        NotOnHub(String m) {
            super(m);
        }
    }

    private static final class NetworkUnavailable extends GlimpseException {
        NetworkUnavailable(String m, Throwable cause) {
            super(m, cause);
        }
    }

    private record FileMeta(String commit, String etag, long size, boolean lfs) {}

    /** Downloads one file of the repository into the cache (if needed) and returns its snapshot path. */
    public Path fetch(String repo, String revision, String file, boolean required) {
        URI uri = URI.create(endpoint + "/" + repo + "/resolve/" + urlEncode(revision) + "/" + file);
        FileMeta meta = head(uri, repo, file, required);
        Path dir = repoDir(repo);
        Path snapFile = dir.resolve("snapshots").resolve(meta.commit).resolve(file);
        try {
            if (!COMMIT.matcher(revision).matches()) {
                Files.createDirectories(dir.resolve("refs"));
                Path ref = dir.resolve("refs").resolve(revision);
                if (!Files.isRegularFile(ref) || !Files.readString(ref).trim().equals(meta.commit)) {
                    AtomicFile.writeString(ref, meta.commit);
                }
            }
            if (Files.exists(snapFile)) {
                return snapFile;
            }
            Path blob = dir.resolve("blobs").resolve(meta.etag);
            if (!Files.isRegularFile(blob)) {
                download(uri, blob, meta, repo + "/" + file);
            }
            Files.createDirectories(snapFile.getParent());
            try {
                Files.createSymbolicLink(snapFile, snapFile.getParent().relativize(blob));
            } catch (UnsupportedOperationException | IOException e) {
                Files.copy(blob, snapFile, StandardCopyOption.REPLACE_EXISTING);
            }
            return snapFile;
        } catch (IOException e) {
            throw new GlimpseException("cannot write to the model cache " + dir + ": " + e.getMessage(), e);
        }
    }

    private FileMeta head(URI uri, String repo, String file, boolean required) {
        HttpResponse<Void> r = send(HttpRequest.newBuilder(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.discarding(), repo);
        int code = r.statusCode();
        checkStatus(code, repo, file, required, r.headers().firstValue("X-Error-Code").orElse(""));
        String commit = r.headers().firstValue("X-Repo-Commit").orElse(null);
        String linked = r.headers().firstValue("X-Linked-Etag").orElse(null);
        String etag = normalizeEtag(linked != null ? linked : r.headers().firstValue("ETag").orElse(null));
        long size = r.headers().firstValue("X-Linked-Size").map(Long::parseLong)
                .orElse(r.headers().firstValueAsLong("Content-Length").orElse(-1));
        if (commit == null || !COMMIT.matcher(commit).matches() || etag == null || etag.isEmpty()
                || etag.contains("/") || etag.startsWith(".")) {
            throw new GlimpseException(uri + ": the server did not send X-Repo-Commit and ETag headers; is "
                    + endpoint + " a Hugging Face hub endpoint?");
        }
        return new FileMeta(commit, etag, size, linked != null);
    }

    private void checkStatus(int code, String repo, String file, boolean required, String errorCode) {
        if (code == 401 || code == 403) {
            if (!required && "EntryNotFound".equals(errorCode)) {
                throw new NotOnHub(repo + "/" + file + " not found");
            }
            throw new GlimpseException("access to '" + repo + "' was refused (HTTP " + code + "): it is gated or"
                    + " private. Accept its licence on the hub, then pass a token with the HF_TOKEN environment"
                    + " variable" + (token == null ? "" : " (the token given was not accepted)"));
        }
        if (code == 404) {
            if (!required) {
                throw new NotOnHub(repo + "/" + file + " not found");
            }
            throw new BadInputException("'" + repo + "' has no file '" + file + "' (HTTP 404): check the model id"
                    + " and revision" + ("RepoNotFound".equals(errorCode) ? " (repository not found)" : ""));
        }
        if (code >= 400) {
            throw new GlimpseException("the hub answered HTTP " + code + " for " + repo + "/" + file);
        }
    }

    /** One lock per blob within this JVM; FileChannel locks are per process and cannot be taken twice here. */
    private static final Map<Path, java.util.concurrent.locks.ReentrantLock> BLOB_LOCKS =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Downloads {@code blob} under a lock (huggingface_hub's {@code .locks/<repo>/<etag>.lock}), so that processes and
     * threads fetching the same file at once end with one correct copy: the first downloads, the others wait and
     * find it done.
     */
    private void download(URI uri, Path blob, FileMeta meta, String label) throws IOException {
        Files.createDirectories(blob.getParent());
        Path repoDir = blob.getParent().getParent();
        Path lockFile = repoDir.getParent().resolve(".locks").resolve(repoDir.getFileName().toString())
                .resolve(blob.getFileName() + ".lock");
        Files.createDirectories(lockFile.getParent());
        java.util.concurrent.locks.ReentrantLock mine = BLOB_LOCKS.computeIfAbsent(lockFile.toAbsolutePath(),
                k -> new java.util.concurrent.locks.ReentrantLock());
        mine.lock();
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             java.nio.channels.FileLock held = ch.lock()) {
            if (Files.isRegularFile(blob)) {
                return; // another process or thread finished it while this one waited
            }
            downloadLocked(uri, blob, meta, label);
        } finally {
            mine.unlock();
        }
    }

    private void downloadLocked(URI uri, Path blob, FileMeta meta, String label) throws IOException {
        Path part = blob.resolveSibling(blob.getFileName() + ".incomplete");
        IOException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            try {
                downloadOnce(uri, part, meta, label);
                verify(part, meta, label);
                Files.move(part, blob, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                AtomicFile.syncDirectory(blob.getParent());
                return;
            } catch (IOException e) {
                last = e; // a cut connection: the partial file stays and the next attempt resumes from it
                try {
                    Thread.sleep(200L * (attempt + 1));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new GlimpseException("download of " + label + " interrupted; rerun to resume");
                }
            }
        }
        throw new GlimpseException("download of " + label + " failed after " + ATTEMPTS + " attempts ("
                + last.getMessage() + "); rerun to resume from " + Files.size(part) + " bytes", last);
    }

    private void downloadOnce(URI uri, Path part, FileMeta meta, String label) throws IOException {
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        if (meta.size >= 0 && have > meta.size) {
            Files.delete(part);
            have = 0;
        }
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).GET();
        if (have > 0) {
            req.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> r = send(req, HttpResponse.BodyHandlers.ofInputStream(), label);
        int code = r.statusCode();
        if (code != 200 && code != 206) {
            r.body().close();
            if (code == 416 && have == meta.size) {
                return; // already complete
            }
            checkStatus(code, label, "", true, "");
            throw new IOException("HTTP " + code);
        }
        boolean append = code == 206;
        if (append) {
            String range = r.headers().firstValue("Content-Range").orElse("");
            if (!range.startsWith("bytes " + have + "-")) {
                r.body().close();
                throw new IOException("server answered range '" + range + "' for a request from byte " + have);
            }
        } else {
            have = 0;
        }
        try (InputStream in = r.body();
             FileChannel out = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            long done = have;
            progress.update(done, meta.size, label);
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) >= 0) {
                ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                while (b.hasRemaining()) {
                    out.write(b);
                }
                done += n;
                progress.update(done, meta.size, label);
            }
            out.force(true);
        }
    }

    private void verify(Path part, FileMeta meta, String label) throws IOException {
        long size = Files.size(part);
        if (meta.size >= 0 && size != meta.size) {
            throw new IOException("got " + size + " of " + meta.size + " bytes");
        }
        if (meta.lfs && meta.etag.matches("[0-9a-f]{64}")) {
            String sha = sha256(part);
            if (!sha.equals(meta.etag)) {
                Files.delete(part);
                throw new GlimpseException("download of " + label + " is corrupt: sha256 " + sha + ", the hub states "
                        + meta.etag + "; the partial file was removed, rerun to download again");
            }
        }
    }

    static String sha256(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sends a request, following redirects by hand so that the token is sent only to the hub itself, never to the
     * storage host a redirect points at.
     */
    private <T> HttpResponse<T> send(HttpRequest.Builder req, HttpResponse.BodyHandler<T> handler, String what) {
        URI uri = req.build().uri();
        String method = req.build().method();
        int retries = 0;
        for (int hop = 0; hop < 6; hop++) {
            HttpRequest.Builder b = req.copy().uri(uri).timeout(Duration.ofMinutes(5))
                    .header("User-Agent", "glimpse/0.1");
            if (token != null && sameHost(uri, endpoint)) {
                b.header("Authorization", "Bearer " + token);
            }
            HttpResponse<T> r;
            try {
                r = http.send(b.build(), handler);
            } catch (ConnectException | HttpTimeoutException e) {
                throw new NetworkUnavailable(e.getClass().getSimpleName() + " " + e.getMessage(), e);
            } catch (IOException e) {
                if ("HEAD".equals(method)) {
                    throw new NetworkUnavailable(e.toString(), e);
                }
                throw new GlimpseException("network error while fetching " + what + ": " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new GlimpseException("interrupted while fetching " + what);
            }
            int code = r.statusCode();
            if ((code == 429 || code == 500 || code == 502 || code == 503 || code == 504) && retries < RETRIES) {
                // rate limited or a passing server error: wait as asked (Retry-After) or back off, with jitter
                closeBody(r);
                long waitMs = retryWaitMillis(r.headers().firstValue("Retry-After").orElse(null), retries);
                retries++;
                try {
                    Thread.sleep(waitMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new GlimpseException("interrupted while waiting to retry " + what);
                }
                hop--;
                continue;
            }
            Optional<String> loc = r.headers().firstValue("Location");
            if (code >= 300 && code < 400 && loc.isPresent()) {
                if ("HEAD".equals(method) && (r.headers().firstValue("X-Repo-Commit").isPresent())) {
                    return r; // the hub's own answer carries the metadata; the redirect target is the CDN
                }
                closeBody(r);
                uri = uri.resolve(loc.get());
                continue;
            }
            return r;
        }
        throw new GlimpseException("too many redirects while fetching " + what);
    }

    /**
     * How long to wait before retry {@code attempt} (0-based): the server's Retry-After (seconds or an HTTP date) when
     * given, else exponential backoff from half a second; plus up to 25 % random jitter so that many clients do not
     * come back at once; never more than a minute.
     */
    static long retryWaitMillis(String retryAfter, int attempt) {
        long base = 500L << Math.min(attempt, 6);
        if (retryAfter != null) {
            String v = retryAfter.strip();
            try {
                base = Math.max(0, Long.parseLong(v)) * 1000;
            } catch (NumberFormatException notSeconds) {
                try {
                    base = Math.max(0, java.time.Duration.between(java.time.Instant.now(), java.time.ZonedDateTime
                            .parse(v, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()).toMillis());
                } catch (java.time.format.DateTimeParseException notADate) {
                    // an unreadable Retry-After: the backoff stands
                }
            }
        }
        long jitter = (long) (java.util.concurrent.ThreadLocalRandom.current().nextDouble() * 0.25 * Math.max(base,
                200));
        return Math.min(60_000, base + jitter);
    }

    private static void closeBody(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try {
                in.close();
            } catch (IOException ignored) {
                // the body of a redirect is not needed
            }
        }
    }

    private static boolean sameHost(URI a, URI b) {
        return a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost()) && a.getPort() == b.getPort();
    }

    private static String normalizeEtag(String etag) {
        if (etag == null) {
            return null;
        }
        String e = etag.trim();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        return e.replace("\"", "");
    }

    private static String urlEncode(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Lists cached models: repo id → snapshot directories. */
    public Map<String, List<Path>> listCached() {
        Map<String, List<Path>> out = new java.util.TreeMap<>();
        if (!Files.isDirectory(cacheDir)) {
            return out;
        }
        try (var dirs = Files.list(cacheDir)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                String n = d.getFileName().toString();
                if (!n.startsWith("models--")) {
                    continue;
                }
                List<Path> snaps = new ArrayList<>();
                Path s = d.resolve("snapshots");
                if (Files.isDirectory(s)) {
                    try (var ls = Files.list(s)) {
                        ls.sorted().forEach(snaps::add);
                    }
                }
                out.put(n.substring("models--".length()).replace("--", "/"), snaps);
            }
        } catch (IOException e) {
            throw new GlimpseException("cannot list " + cacheDir + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** Configures a repository; defaults come from the environment given. */
    public static final class Builder {
        private String endpoint;
        private Path cacheDir;
        private boolean offline;
        private String token;
        private Progress progress = Progress.NONE;

        Builder(Map<String, String> env) {
            endpoint = env.getOrDefault("HF_ENDPOINT", "https://huggingface.co");
            // the glimpse.hub.cache system property wins (tests, embedding apps), then HF_HUB_CACHE, HF_HOME
            String hubCache = System.getProperty("glimpse.hub.cache", env.get("HF_HUB_CACHE"));
            String home = env.get("HF_HOME");
            if (hubCache != null && !hubCache.isBlank()) {
                cacheDir = Path.of(hubCache);
            } else if (home != null && !home.isBlank()) {
                cacheDir = Path.of(home, "hub");
            } else {
                String xdg = env.get("XDG_CACHE_HOME");
                cacheDir = xdg != null && !xdg.isBlank() ? Path.of(xdg, "huggingface", "hub")
                        : Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
            }
            String off = env.getOrDefault("HF_HUB_OFFLINE", "");
            offline = new LinkedHashSet<>(List.of("1", "true", "yes", "on")).contains(off.toLowerCase(Locale.ROOT));
            String t = env.get("HF_TOKEN");
            token = t == null || t.isBlank() ? null : t.trim();
        }

        public Builder endpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        public Builder cacheDir(Path cacheDir) {
            this.cacheDir = cacheDir;
            return this;
        }

        public Builder offline(boolean offline) {
            this.offline = offline;
            return this;
        }

        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /**
         * Receives download progress: bytes done of the file's size (-1 when unknown), with the file as status.
         * The library draws nothing itself; the CLI passes a progress bar.
         */
        public Builder progress(Progress progress) {
            this.progress = progress == null ? Progress.NONE : progress;
            return this;
        }

        public ModelRepository build() {
            return new ModelRepository(this);
        }
    }
}
