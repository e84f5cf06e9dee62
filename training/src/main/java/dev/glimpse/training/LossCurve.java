package dev.glimpse.training;

import dev.glimpse.core.AtomicFile;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Writes a loss curve (and optional extra series such as held-out accuracy) as a PNG. */
public final class LossCurve {
    private LossCurve() {}

    public static void write(List<double[]> points, Path png, String title) {
        if (points.isEmpty()) {
            return;
        }
        XYChart chart = new XYChartBuilder().width(900).height(450).title(title).xAxisTitle("optimizer step")
                .yAxisTitle("loss").build();
        chart.getStyler().setLegendVisible(false);
        double[] x = new double[points.size()];
        double[] y = new double[points.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = points.get(i)[0];
            y[i] = points.get(i)[1];
        }
        chart.addSeries("loss", x, y).setMarker(SeriesMarkers.NONE);
        System.setProperty("java.awt.headless", "true");
        // written whole or not at all: a run killed while drawing leaves the previous curve
        AtomicFile.write(png, ch -> BitmapEncoder.saveBitmap(chart, Channels.newOutputStream(ch),
                BitmapEncoder.BitmapFormat.PNG));
    }
}
