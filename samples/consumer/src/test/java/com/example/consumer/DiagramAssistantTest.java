package com.example.consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.glimpse.fusion.Answer;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiagramAssistantTest {
    static BufferedImage ball(Color c) {
        BufferedImage img = new BufferedImage(224, 224, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 224, 224);
        g.setColor(c);
        g.fillOval(42, 42, 140, 140);
        g.dispose();
        return img;
    }

    @Test
    void answersAQuestionAboutADiagram(@TempDir Path cache) {
        Path kit = Path.of(System.getProperty("glimpse.demoKit"));
        try (DiagramAssistant a = new DiagramAssistant(kit.resolve("bundle"), cache)) {
            List<String> colours = List.of("red", "blue", "green", "yellow");
            Answer red = a.ask(ball(new Color(220, 30, 30)), "What color is the ball?", colours);
            Answer blue = a.ask(ball(new Color(30, 70, 220)), "What color is the ball?", colours);
            System.out.println("red ball: " + red.text() + " " + red.probabilities());
            System.out.println("blue ball: " + blue.text() + " " + blue.probabilities());
            assertEquals("red", red.text());
            assertEquals("blue", blue.text());
            assertEquals(1.0, red.probabilities().values().stream().mapToDouble(Double::doubleValue).sum(), 1e-9);
        }
    }
}
