package dev.glimpse.spark;

import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.Question;
import dev.glimpse.vision.ImageLoader;
import java.awt.image.BufferedImage;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * A row as a {@link Question}, or the reason it is not one: the image (binary, local path or {@code file:} URI,
 * within the size limits), the question, the choices and the context, by column. Serializable: it travels to the
 * executors with the task.
 */
final class RowReader implements Serializable {
    private final int image;
    private final boolean imageIsBinary;
    private final int question;
    private final int choices;
    private final int context;
    private final boolean requireChoices;
    private final long maxImageBytes;

    /** A question, or the reason the row has none. */
    record Parsed(Question question, String error) {}

    RowReader(StructType schema, String imageCol, String questionCol, String choicesCol, String contextCol,
              boolean requireChoices, long maxImageBytes) {
        this.image = schema.fieldIndex(imageCol);
        this.imageIsBinary = schema.apply(imageCol).dataType().equals(org.apache.spark.sql.types.DataTypes.BinaryType);
        this.question = schema.fieldIndex(questionCol);
        this.choices = choicesCol == null ? -1 : schema.fieldIndex(choicesCol);
        this.context = contextCol == null ? -1 : schema.fieldIndex(contextCol);
        this.requireChoices = requireChoices;
        this.maxImageBytes = maxImageBytes;
    }

    Parsed parse(Row r) {
        try {
            String q = r.isNullAt(question) ? "" : r.getString(question).strip();
            if (q.isEmpty()) {
                throw new BadInputException("question: empty");
            }
            List<String> opts = new ArrayList<>();
            if (choices >= 0 && !r.isNullAt(choices)) {
                for (Object o : r.getList(choices)) {
                    if (o == null || o.toString().isBlank()) {
                        throw new BadInputException("choices: choice " + (opts.size() + 1) + " is empty");
                    }
                    opts.add(o.toString());
                }
            }
            if (opts.isEmpty() && requireChoices) {
                throw new BadInputException("choices: none, and requireChoices is set");
            }
            if (opts.size() > 26) {
                throw new BadInputException("choices: " + opts.size() + " of them; letters go to Z (26)");
            }
            String ctx = context >= 0 && !r.isNullAt(context) ? r.getString(context) : "";
            List<BufferedImage> images = r.isNullAt(image) ? List.of() : List.of(image(r));
            return new Parsed(new Question(images, q, opts, ctx), null);
        } catch (BadInputException e) {
            return new Parsed(null, e.getMessage());
        }
    }

    private BufferedImage image(Row r) {
        try {
            return decode(r);
        } catch (BadInputException e) {
            throw e;
        } catch (RuntimeException e) { // a decoder's own failure on a hostile image: this row's error, not the job's
            throw new BadInputException("image: cannot decode (" + e + ")", e);
        }
    }

    private BufferedImage decode(Row r) {
        ImageLoader loader = new ImageLoader(ImageLoader.DEFAULT_MAX_PIXELS, maxImageBytes);
        if (imageIsBinary) {
            return loader.load((byte[]) r.get(image), "image (binary column)");
        }
        String ref = r.getString(image);
        Path p;
        if (ref.startsWith("file:")) {
            p = Path.of(URI.create(ref));
        } else if (ref.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
            throw new BadInputException("image: " + ref + " is not a local path or file: URI; read such images as"
                    + " bytes with spark.read().format(\"binaryFile\") and use its content column");
        } else {
            p = Path.of(ref);
        }
        return loader.load(p);
    }
}
