package dev.glimpse.core;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A local HTTP server that imitates the Hugging Face hub's resolve endpoint: HEAD answers with X-Repo-Commit and
 * ETag (or, for LFS files, a 302 to a separate storage server with X-Linked-Etag = sha256 and X-Linked-Size); the
 * storage server serves byte ranges. It can require a token, cut a connection half way, or corrupt a file.
 * Tests never touch the real network.
 */
public final class FakeHub implements AutoCloseable {
    public record Request(String method, String path, String range, String authorization, boolean storage) {}

    private final HttpServer hub;
    private final HttpServer storage;
    private final Map<String, Map<String, byte[]>> repos = new LinkedHashMap<>();
    private final Map<String, String> commits = new LinkedHashMap<>();
    private final Set<String> lfs = new HashSet<>();
    private final Set<String> cutOnce = Collections.synchronizedSet(new HashSet<>());
    private final Map<String, byte[]> corrupt = new LinkedHashMap<>();
    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private volatile String requiredToken;
    private final java.util.concurrent.atomic.AtomicInteger failuresLeft = new java.util.concurrent.atomic.AtomicInteger();
    private volatile int failureCode;
    private volatile String retryAfter;
    private volatile long slowMillisPerChunk;

    public FakeHub() throws IOException {
        hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        storage = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/", this::handleHub);
        storage.createContext("/", this::handleStorage);
        hub.start();
        storage.start();
    }

    public String endpoint() {
        return "http://127.0.0.1:" + hub.getAddress().getPort();
    }

    /** Adds a file; {@code large} files are served as LFS objects through the storage server. */
    public FakeHub file(String repo, String commit, String name, byte[] content, boolean large) {
        repos.computeIfAbsent(repo, r -> new LinkedHashMap<>()).put(name, content);
        commits.put(repo, commit);
        if (large) {
            lfs.add(sha256(content));
        }
        return this;
    }

    public FakeHub requireToken(String token) {
        this.requiredToken = token;
        return this;
    }

    /** The next {@code times} requests (hub and storage alike) answer {@code code}, with Retry-After when given. */
    public FakeHub failNext(int times, int code, String retryAfterHeader) {
        this.failureCode = code;
        this.retryAfter = retryAfterHeader;
        failuresLeft.set(times);
        return this;
    }

    /** Storage sends bodies in 64 KiB chunks with a pause after each (so that clients overlap). */
    public FakeHub slow(long millisPerChunk) {
        this.slowMillisPerChunk = millisPerChunk;
        return this;
    }

    /** Requests answered with a planned failure so far are counted in {@link #requests} too. */
    private boolean failed(HttpExchange ex) throws IOException {
        if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            if (retryAfter != null) {
                ex.getResponseHeaders().add("Retry-After", retryAfter);
            }
            ex.sendResponseHeaders(failureCode, -1);
            ex.close();
            return true;
        }
        return false;
    }

    /** The next storage download of this content is cut after half its bytes. */
    public FakeHub cutOnce(byte[] content) {
        cutOnce.add(sha256(content));
        return this;
    }

    /** Storage serves {@code served} in place of {@code content} (the stated sha256 stays the true one). */
    public FakeHub corrupt(byte[] content, byte[] served) {
        corrupt.put(sha256(content), served);
        return this;
    }

    public long count(String method, boolean storageServer) {
        return requests.stream().filter(r -> r.method.equals(method) && r.storage == storageServer).count();
    }

    public static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void handleHub(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        requests.add(new Request(ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Range"), auth, false));
        if (failed(ex)) {
            return;
        }
        // /{org}/{name}/resolve/{rev}/{file...}
        String[] parts = path.substring(1).split("/", 5);
        if (parts.length < 5 || !parts[2].equals("resolve")) {
            reply(ex, 404, "RepoNotFound");
            return;
        }
        String repo = parts[0] + "/" + parts[1];
        if (requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
            reply(ex, 401, "GatedRepo");
            return;
        }
        Map<String, byte[]> files = repos.get(repo);
        if (files == null) {
            reply(ex, 404, "RepoNotFound");
            return;
        }
        String rev = parts[3];
        if (!rev.equals("main") && !rev.equals(commits.get(repo))) {
            reply(ex, 404, "RevisionNotFound");
            return;
        }
        byte[] content = files.get(parts[4]);
        if (content == null) {
            reply(ex, 404, "EntryNotFound");
            return;
        }
        String sha = sha256(content);
        ex.getResponseHeaders().add("X-Repo-Commit", commits.get(repo));
        if (lfs.contains(sha)) {
            ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha + "\"");
            ex.getResponseHeaders().add("X-Linked-Size", Long.toString(content.length));
            ex.getResponseHeaders().add("ETag", "\"" + sha.substring(0, 40) + "\"");
            ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + storage.getAddress().getPort() + "/lfs/" + sha);
            ex.sendResponseHeaders(302, -1);
            ex.close();
            return;
        }
        ex.getResponseHeaders().add("ETag", "\"" + sha.substring(0, 40) + "\"");
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().add("Content-Length", Long.toString(content.length));
            ex.sendResponseHeaders(200, -1);
            ex.close();
            return;
        }
        serve(ex, content, false);
    }

    private void handleStorage(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        requests.add(new Request(ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Range"),
                ex.getRequestHeaders().getFirst("Authorization"), true));
        if (failed(ex)) {
            return;
        }
        String sha = path.substring("/lfs/".length());
        byte[] content = null;
        for (Map<String, byte[]> files : repos.values()) {
            for (byte[] b : files.values()) {
                if (sha256(b).equals(sha)) {
                    content = b;
                }
            }
        }
        if (content == null) {
            reply(ex, 404, "");
            return;
        }
        byte[] served = corrupt.getOrDefault(sha, content);
        serve(ex, served, cutOnce.remove(sha));
    }

    private void serve(HttpExchange ex, byte[] content, boolean cut) throws IOException {
        int from = 0;
        String range = ex.getRequestHeaders().getFirst("Range");
        if (range != null && range.startsWith("bytes=")) {
            from = Integer.parseInt(range.substring(6, range.indexOf('-')));
            if (from >= content.length) {
                ex.sendResponseHeaders(416, -1);
                ex.close();
                return;
            }
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
            ex.sendResponseHeaders(206, content.length - from);
        } else {
            ex.sendResponseHeaders(200, content.length);
        }
        OutputStream out = ex.getResponseBody();
        if (cut) {
            int half = (content.length - from) / 2;
            out.write(content, from, half);
            out.flush();
            // drop the connection without finishing the body
            ex.close(); // fewer bytes than announced: the server drops the connection
            return;
        }
        if (slowMillisPerChunk > 0) {
            for (int i = from; i < content.length; i += 1 << 16) {
                out.write(content, i, Math.min(1 << 16, content.length - i));
                out.flush();
                try {
                    Thread.sleep(slowMillisPerChunk);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        } else {
            out.write(content, from, content.length - from);
        }
        out.close();
    }

    private static void reply(HttpExchange ex, int code, String errorCode) throws IOException {
        if (!errorCode.isEmpty()) {
            ex.getResponseHeaders().add("X-Error-Code", errorCode);
        }
        ex.sendResponseHeaders(code, -1);
        ex.close();
    }

    @Override
    public void close() {
        hub.stop(0);
        storage.stop(0);
    }
}
