package dev.glimpse.samples.cli;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.ModelRepository;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "cache", mixinStandardHelpOptions = true,
        description = "The local model cache (Hugging Face layout: $HF_HUB_CACHE or $HF_HOME/hub).",
        subcommands = {CacheCommand.ListCmd.class, CacheCommand.Clear.class},
        footer = {"", "Examples:", "  glimpse cache list", "  glimpse cache clear org/name"})
final class CacheCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static long size(Path p) {
        if (!Files.exists(p)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(Files::isRegularFile).filter(x -> !Files.isSymbolicLink(x)).mapToLong(x -> {
                try {
                    return Files.size(x);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException e) {
            throw new GlimpseException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List cached models with sizes.",
            footer = {"", "Example:", "  glimpse cache list --json"})
    static final class ListCmd implements Callable<Integer> {
        @Option(names = "--json")
        boolean json;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            ModelRepository repo = GlimpseCli.repository();
            List<Map<String, Object>> rows = new ArrayList<>();
            repo.listCached().forEach((id, snaps) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("repo", id);
                m.put("snapshots", snaps.stream().map(p -> p.getFileName().toString()).toList());
                m.put("bytes", size(repo.repoDir(id).resolve("blobs")));
                rows.add(m);
            });
            if (json) {
                out.println(Json.write(Map.of("cache", repo.cacheDir().toString(), "models", rows)));
            } else {
                out.println("cache: " + repo.cacheDir());
                if (rows.isEmpty()) {
                    out.println("  (empty)");
                }
                rows.forEach(r -> out.printf("  %-50s %,14d bytes  %s%n", r.get("repo"), (Long) r.get("bytes"),
                        r.get("snapshots")));
            }
            return 0;
        }
    }

    @Command(name = "clear", mixinStandardHelpOptions = true, description = "Remove cached models.",
            footer = {"", "Examples:", "  glimpse cache clear Qwen/Qwen2.5-0.5B-Instruct", "  glimpse cache clear --all"})
    static final class Clear implements Callable<Integer> {
        @Parameters(arity = "0..*", paramLabel = "REPO", description = "Repository ids to remove.")
        List<String> repos = new ArrayList<>();

        @Option(names = "--all", description = "Remove every cached model.")
        boolean all;

        @Option(names = "--json")
        boolean json;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            ModelRepository repo = GlimpseCli.repository();
            List<String> targets = new ArrayList<>(repos);
            if (all) {
                targets.addAll(repo.listCached().keySet());
            }
            if (targets.isEmpty()) {
                throw new BadInputException("name the repositories to remove, or pass --all");
            }
            long freed = 0;
            List<String> removed = new ArrayList<>();
            for (String id : targets) {
                Path dir = repo.repoDir(id);
                if (!Files.isDirectory(dir)) {
                    throw new BadInputException("'" + id + "' is not in the cache " + repo.cacheDir());
                }
                freed += size(dir);
                delete(dir);
                removed.add(id);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(Json.write(Map.of("removed", removed, "bytes_freed", freed)));
            } else {
                out.printf("removed %s (%,d bytes)%n", removed, freed);
            }
            return 0;
        }

        static void delete(Path dir) {
            try {
                Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                        Files.delete(f);
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                        Files.delete(d);
                        return FileVisitResult.CONTINUE;
                    }
                });
            } catch (IOException e) {
                throw new GlimpseException("cannot remove " + dir + ": " + e.getMessage(), e);
            }
        }
    }
}
