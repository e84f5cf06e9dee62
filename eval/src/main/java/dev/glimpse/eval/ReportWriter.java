package dev.glimpse.eval;

import com.fasterxml.jackson.databind.SerializationFeature;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.GlimpseException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** Writes a report as JSON, Markdown, CSV (one row per question) and a PNG bar chart by category. */
public final class ReportWriter {
    private ReportWriter() {}

    /** The summary printed by {@code --json}: correct, total, accuracy, unparseable, by_category. */
    public static Map<String, Object> summary(EvalReport r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("correct", r.correct());
        m.put("total", r.total());
        m.put("accuracy", round(r.accuracy()));
        m.put("unparseable", r.unparseable());
        m.put("missing", r.missing());
        if (r.expectedAccuracy() != null) {
            m.put("expected_accuracy", round(r.expectedAccuracy()));
        }
        Map<String, Object> by = new LinkedHashMap<>();
        r.byCategory().forEach((k, v) -> by.put(k, round(v.accuracy())));
        m.put("by_category", by);
        if (!r.missingColumns().isEmpty()) {
            m.put("missing_columns", r.missingColumns());
        }
        m.put("policy", r.policy());
        m.put("issues", r.issues().size());
        return m;
    }

    static double round(double x) {
        return Math.round(x * 100.0) / 100.0;
    }

    /** Writes report.json, report.md, questions.csv and accuracy_by_category.png into {@code dir}; returns them. */
    public static List<Path> write(EvalReport r, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new GlimpseException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        List<Path> files = new ArrayList<>();
        Map<String, Object> json = new LinkedHashMap<>(summary(r));
        json.put("source", r.source());
        json.put("categories", r.byCategory());
        json.put("issues", r.issues().stream().map(LoadIssue::toString).toList());
        json.put("baselines", Baselines.PUBLISHED);
        try {
            Path p = dir.resolve("report.json");
            AtomicFile.writeString(p, ScienceQaDataset.JSON.copy().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(json));
            files.add(p);
        } catch (IOException e) {
            throw new GlimpseException("cannot write report.json: " + e.getMessage(), e);
        }
        Path md = dir.resolve("report.md");
        AtomicFile.writeString(md, markdown(r));
        files.add(md);
        Path csv = dir.resolve("questions.csv");
        AtomicFile.writeString(csv, csv(r));
        files.add(csv);
        Path png = dir.resolve("accuracy_by_category.png");
        chart(r, png);
        files.add(png);
        return files;
    }

    public static String markdown(EvalReport r) {
        StringBuilder sb = new StringBuilder();
        sb.append("# ScienceQA evaluation\n\n");
        if (r.source() != null) {
            sb.append("Source: `").append(r.source()).append("`  \n");
        }
        sb.append(String.format(Locale.ROOT, "Policy: `%s` — %d / %d correct = **%.2f %%**; %d unparseable, %d missing",
                r.policy(), r.correct(), r.total(), r.accuracy(), r.unparseable(), r.missing()));
        if (r.expectedAccuracy() != null) {
            sb.append(String.format(Locale.ROOT, "; expected accuracy over the random fallback %.2f %%",
                    r.expectedAccuracy()));
        }
        sb.append("\n\n");
        List<String> cols = EvalReport.COLUMNS;
        sb.append("| method | ").append(String.join(" | ", cols)).append(" |\n|---|");
        sb.append("---:|".repeat(cols.size())).append('\n');
        sb.append("| **Glimpse (this run)** |");
        for (String c : cols) {
            EvalReport.Category cat = r.byCategory().get(c);
            sb.append(cat == null ? " — |" : String.format(Locale.ROOT, " %.2f |", cat.accuracy()));
        }
        sb.append('\n');
        for (Baselines.Baseline b : Baselines.PUBLISHED) {
            sb.append("| ").append(b.method()).append(" |").append(" |".repeat(cols.size() - 1))
                    .append(String.format(Locale.ROOT, " %.2f |", b.average())).append('\n');
        }
        sb.append("\nBaseline sources: ");
        for (int i = 0; i < Baselines.PUBLISHED.size(); i++) {
            Baselines.Baseline b = Baselines.PUBLISHED.get(i);
            sb.append(i == 0 ? "" : "; ").append(b.method()).append(" — ").append(b.source());
        }
        sb.append(".\n");
        if (!r.missingColumns().isEmpty()) {
            sb.append("\nColumns not computed (the questions carry no subject/grade; pass problems.json): ")
                    .append(String.join(", ", r.missingColumns())).append(".\n");
        }
        sb.append("\nQuestions per column: ");
        r.byCategory().forEach((k, v) -> sb.append(k).append(' ').append(v.total()).append("  "));
        sb.append('\n');
        if (!r.issues().isEmpty()) {
            sb.append("\n## Input issues (").append(r.issues().size()).append(")\n\n");
            r.issues().stream().limit(50).forEach(i -> sb.append("- ").append(i).append('\n'));
            if (r.issues().size() > 50) {
                sb.append("- … and ").append(r.issues().size() - 50).append(" more (see report.json)\n");
            }
        }
        return sb.toString();
    }

    static String csv(EvalReport r) {
        StringBuilder sb = new StringBuilder("pid,parsed,predicted,gold,correct,fallback,columns,output,prompt\n");
        for (EvalReport.QuestionResult q : r.questions()) {
            sb.append(cell(q.id())).append(',').append(cell(q.parsed())).append(',')
                    .append(q.predicted() >= 0 ? String.valueOf((char) ('A' + q.predicted())) : "").append(',')
                    .append(cell(q.gold())).append(',').append(q.correct()).append(',').append(q.fallback()).append(',')
                    .append(cell(String.join(" ", q.columns()))).append(',').append(cell(q.output())).append(',')
                    .append(cell(q.prompt())).append('\n');
        }
        return sb.toString();
    }

    private static String cell(String s) {
        if (s == null) {
            return "";
        }
        if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")) {
            return "\"" + s.replace("\"", "\"\"") + "\"";
        }
        return s;
    }

    static void chart(EvalReport r, Path png) {
        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(900).height(450)
                .title(String.format(Locale.ROOT, "ScienceQA accuracy by category (%s policy)", r.policy()))
                .xAxisTitle("category").yAxisTitle("accuracy (%)").build();
        chart.getStyler().setLegendVisible(true);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(100.0);
        chart.getStyler().setLabelsVisible(true);
        List<String> xs = new ArrayList<>(r.byCategory().keySet());
        List<Double> ys = r.byCategory().values().stream().map(c -> round(c.accuracy())).toList();
        chart.addSeries("Glimpse", xs, ys);
        savePng(chart, png);
    }

    /** Writes an XChart chart as a PNG atomically (temporary file, then rename), headless. */
    public static void savePng(org.knowm.xchart.internal.chartpart.Chart<?, ?> chart, Path png) {
        System.setProperty("java.awt.headless", "true");
        try {
            Path tmp = Files.createTempFile(png.toAbsolutePath().getParent(), ".chart", ".png");
            BitmapEncoder.saveBitmap(chart, tmp.toString(), BitmapEncoder.BitmapFormat.PNG);
            Files.move(tmp, png, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new GlimpseException("cannot write " + png + ": " + e.getMessage(), e);
        }
    }
}
