package dev.glimpse.samples.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Synthetic diagram questions drawn in Java: coloured shapes on a canvas, asked about in words a TinyStories model
 * knows. The demo's suite has four kinds — colour, shape, count, position — with options in a fixed order, scored
 * by their words. The lettered suite is ScienceQA-style: six kinds (adding top/bottom and which is bigger), options
 * shuffled per question and answered by letter, on varied backgrounds. Chance is known for both.
 */
public final class DiagramDataset {
    public static final int SIZE = 224;

    /** A question kind: its wording and options. */
    public enum Kind {
        COLOR("What color is the ball?", List.of("red", "blue", "green", "yellow")),
        SHAPE("What shape is the ball?", List.of("circle", "square", "triangle")),
        COUNT("How many balls are there?", List.of("one", "two", "three")),
        POSITION("Is the ball on the left or the right?", List.of("left", "right")),
        VERTICAL("Is the ball at the top or the bottom?", List.of("top", "bottom")),
        BIGGER("Which ball is bigger?", List.of("the left ball", "the right ball"));

        /** The demo's four kinds, in the order its data is drawn. */
        public static final List<Kind> DEMO = List.of(COLOR, SHAPE, COUNT, POSITION);

        public final String question;
        public final List<String> options;

        Kind(String question, List<String> options) {
            this.question = question;
            this.options = options;
        }

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One generated diagram with its question, its options (in the order asked) and the index of the right one. */
    public record Item(String id, Kind kind, BufferedImage image, List<String> options, int answer) {
        public Item(String id, Kind kind, BufferedImage image, int answer) {
            this(id, kind, image, kind.options, answer);
        }

        public String question() {
            return kind.question;
        }

        public String answerText() {
            return options.get(answer);
        }
    }

    static final Color[] COLORS = {new Color(220, 30, 30), new Color(30, 70, 220), new Color(30, 160, 50),
        new Color(240, 210, 20)};

    private DiagramDataset() {}

    /** {@code perKind} items of each of the demo's four kinds, reproducibly from {@code seed}. */
    public static List<Item> generate(int perKind, long seed, String prefix) {
        Random r = new Random(seed);
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < perKind; i++) {
            for (Kind k : Kind.DEMO) {
                items.add(draw(k, r, prefix + "-" + k.label() + "-" + i, false));
            }
        }
        return items;
    }

    /**
     * The lettered suite: {@code perKind} items of all six kinds, options shuffled per item (so a letter says nothing
     * by itself), on a random light background, reproducibly from {@code seed}.
     */
    public static List<Item> generateLettered(int perKind, long seed, String prefix) {
        Random r = new Random(seed);
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < perKind; i++) {
            for (Kind k : Kind.values()) {
                Item it = draw(k, r, prefix + "-" + k.label() + "-" + i, true);
                List<Integer> order = new ArrayList<>();
                for (int j = 0; j < k.options.size(); j++) {
                    order.add(j);
                }
                java.util.Collections.shuffle(order, r);
                List<String> opts = order.stream().map(k.options::get).toList();
                items.add(new Item(it.id(), k, it.image(), opts, order.indexOf(it.answer())));
            }
        }
        return items;
    }

    static Item draw(Kind kind, Random r, String id, boolean varied) {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(varied ? new Color(225 + r.nextInt(31), 225 + r.nextInt(31), 225 + r.nextInt(31)) : Color.WHITE);
        g.fillRect(0, 0, SIZE, SIZE);
        int colour = r.nextInt(COLORS.length);
        int shape = r.nextInt(3);
        int answer;
        switch (kind) {
            case COLOR -> {
                // one large ball: colour is a weak per-token signal in MobileNet's block_13 features
                shape(g, 0, COLORS[colour], 112 + r.nextInt(21) - 10, 112 + r.nextInt(21) - 10, 120 + r.nextInt(40));
                answer = colour;
            }
            case SHAPE -> {
                shape(g, shape, COLORS[colour], 112 + r.nextInt(41) - 20, 112 + r.nextInt(41) - 20, 60 + r.nextInt(40));
                answer = shape;
            }
            case COUNT -> {
                int n = 1 + r.nextInt(3);
                // non-overlapping slots on a 3x3 grid, jittered
                List<Integer> slots = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8));
                java.util.Collections.shuffle(slots, r);
                for (int i = 0; i < n; i++) {
                    int s = slots.get(i);
                    int cx = 40 + (s % 3) * 72 + r.nextInt(11) - 5;
                    int cy = 40 + (s / 3) * 72 + r.nextInt(11) - 5;
                    shape(g, shape, COLORS[colour], cx, cy, 40 + r.nextInt(12));
                }
                answer = n - 1;
            }
            case POSITION -> {
                boolean right = r.nextBoolean();
                int cx = right ? 160 + r.nextInt(30) : 34 + r.nextInt(30);
                shape(g, shape, COLORS[colour], cx, 60 + r.nextInt(104), 48 + r.nextInt(20));
                answer = right ? 1 : 0;
            }
            case VERTICAL -> {
                boolean bottom = r.nextBoolean();
                int cy = bottom ? 160 + r.nextInt(30) : 34 + r.nextInt(30);
                shape(g, shape, COLORS[colour], 60 + r.nextInt(104), cy, 48 + r.nextInt(20));
                answer = bottom ? 1 : 0;
            }
            default -> {
                // two balls side by side, one clearly bigger
                boolean rightBigger = r.nextBoolean();
                int big = 70 + r.nextInt(25);
                int small = 28 + r.nextInt(14);
                int cy = 80 + r.nextInt(64);
                shape(g, shape, COLORS[colour], 58 + r.nextInt(11) - 5, cy, rightBigger ? small : big);
                shape(g, shape, COLORS[(colour + 1 + r.nextInt(3)) % COLORS.length], 166 + r.nextInt(11) - 5, cy,
                        rightBigger ? big : small);
                answer = rightBigger ? 1 : 0;
            }
        }
        g.dispose();
        return new Item(id, kind, img, answer);
    }

    /** 0 circle, 1 square, 2 triangle; centred at (cx, cy) with the given size. */
    static void shape(Graphics2D g, int shape, Color c, int cx, int cy, int size) {
        g.setColor(c);
        int h = size / 2;
        switch (shape) {
            case 0 -> g.fillOval(cx - h, cy - h, size, size);
            case 1 -> g.fillRect(cx - h, cy - h, size, size);
            default -> g.fillPolygon(new int[] {cx, cx - h, cx + h}, new int[] {cy - h, cy + h, cy + h}, 3);
        }
        g.setColor(c.darker());
        g.setStroke(new BasicStroke(2f));
    }

    /** A white image of the same size: what the "image-blind" baseline sees. */
    public static BufferedImage blank() {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, SIZE, SIZE);
        g.dispose();
        return img;
    }
}
