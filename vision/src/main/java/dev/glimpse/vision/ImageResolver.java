package dev.glimpse.vision;

import dev.glimpse.core.BadInputException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Turns the image reference a client sends into an image, by one policy for every API (the server, LangChain4j):
 * base64 data and {@code data:} URLs always; {@code file:} URLs and {@code http(s):} URLs only where allowed — a
 * service should read neither its disk nor the network on a client's behalf unless told to. Every image then goes
 * through the {@link ImageLoader}'s limits. Thread-safe.
 */
public final class ImageResolver {
    private final ImageLoader loader;
    private final boolean allowFiles;
    private final boolean allowRemote;
    private final String remoteAdvice;

    /**
     * @param remoteAdvice what to tell a client whose remote URL is refused (e.g. the flag that allows them)
     */
    public ImageResolver(ImageLoader loader, boolean allowFiles, boolean allowRemote, String remoteAdvice) {
        this.loader = loader;
        this.allowFiles = allowFiles;
        this.allowRemote = allowRemote;
        this.remoteAdvice = remoteAdvice;
    }

    /** The image {@code ref} names; a refusal or a bad image is a one-line error naming {@code field}. */
    public BufferedImage resolve(String ref, String field) {
        String r = ref.strip();
        String name = "'" + field + "'";
        if (r.startsWith("http://") || r.startsWith("https://")) {
            if (!allowRemote) {
                throw new BadInputException(name + ": remote image URLs are refused (" + remoteAdvice + ")");
            }
            return fetch(r, name);
        }
        if (r.startsWith("file:")) {
            if (!allowFiles) {
                throw new BadInputException(name + ": file URLs are refused (send the image as a data URL)");
            }
            try {
                return loader.load(Path.of(URI.create(r)));
            } catch (IllegalArgumentException e) {
                throw new BadInputException(name + ": not a file URL: " + e.getMessage());
            }
        }
        return loader.loadBase64(r, name);
    }

    private BufferedImage fetch(String url, String name) {
        try {
            HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
            HttpResponse<InputStream> r = c.send(HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = r.body()) {
                if (r.statusCode() != 200) {
                    throw new BadInputException(name + ": fetching the image answered HTTP " + r.statusCode());
                }
                return loader.load(in, name);
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new BadInputException(name + ": cannot fetch the image: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BadInputException(name + ": interrupted while fetching the image", e);
        }
    }
}
