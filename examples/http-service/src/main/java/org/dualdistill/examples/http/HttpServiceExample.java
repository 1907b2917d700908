package org.dualdistill.examples.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.dualdistill.inference.ClassificationException;
import org.dualdistill.inference.Prediction;
import org.dualdistill.inference.VideoClassifier;

/**
 * A video classification service on the JDK's {@link HttpServer}: one {@link VideoClassifier} shared by all request
 * threads, so concurrent uploads are micro-batched on one model.
 *
 * <pre>
 *   GET  /health                  200 {"status":"ok","classes":N,"requests":...,"meanBatch":...}
 *   POST /classify?name=clip.mp4  body = the video file; 200 {"input":...,"predictions":[{label,index,probability}]}
 *                                 400 when the body is not a decodable video, 413 when it is too large,
 *                                 503 when the classifier is full or shutting down
 * </pre>
 *
 * Run: {@code java --enable-native-access=ALL-UNNAMED -cp ... org.dualdistill.examples.http.HttpServiceExample
 * --model DIR [--port 8080] [--threads 8] [--max-batch 8] [--max-wait-ms 5] [--top-k 5]}, then
 * {@code curl --data-binary @video.mp4 'localhost:8080/classify?name=video.mp4'}.
 */
public final class HttpServiceExample {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest accepted upload. */
    static final int MAX_BODY = 64 << 20;

    private HttpServiceExample() {
    }

    /** A running service; {@link #close()} stops the server, then the classifier. */
    public static final class Service implements AutoCloseable {
        private final HttpServer server;
        private final ExecutorService pool;
        private final VideoClassifier classifier;

        Service(HttpServer server, ExecutorService pool, VideoClassifier classifier) {
            this.server = server;
            this.pool = pool;
            this.classifier = classifier;
        }

        /** @return the port it listens on */
        public int port() {
            return server.getAddress().getPort();
        }

        /** @return the classifier (for its stats) */
        public VideoClassifier classifier() {
            return classifier;
        }

        @Override
        public void close() {
            server.stop(0);
            pool.shutdown();
            try {
                pool.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            classifier.close();
        }
    }

    /**
     * @param args {@code --model DIR} and the options in the class comment
     * @throws Exception when the model cannot be loaded or the port is taken
     */
    public static void main(String[] args) throws Exception {
        Service s = runExample(args);
        Runtime.getRuntime().addShutdownHook(new Thread(s::close));
        System.out.println("listening on http://localhost:" + s.port() + " (GET /health, POST /classify)");
        Thread.currentThread().join();
    }

    /**
     * Starts the service.
     *
     * @param args as for {@link #main}; {@code --port 0} picks a free port
     * @return the running service; caller must close
     * @throws IOException when the model cannot be loaded or the port cannot be bound
     */
    public static Service runExample(String[] args) throws IOException {
        Path model = null;
        int port = 8080;
        int threads = 8;
        int maxBatch = 8;
        int maxWaitMs = 5;
        int topK = 5;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--model" -> model = Path.of(v);
                case "--port" -> port = Integer.parseInt(v);
                case "--threads" -> threads = Integer.parseInt(v);
                case "--max-batch" -> maxBatch = Integer.parseInt(v);
                case "--max-wait-ms" -> maxWaitMs = Integer.parseInt(v);
                case "--top-k" -> topK = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
            i++;
        }
        if (model == null) {
            throw new IllegalArgumentException("--model DIR (an exported student) is required");
        }
        VideoClassifier classifier = VideoClassifier.builder(model).optTopK(topK).optMaxBatch(maxBatch)
                .optMaxWait(java.time.Duration.ofMillis(maxWaitMs)).optQueueCapacity(4 * threads).build();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
            server.setExecutor(pool);
            server.createContext("/health", ex -> health(ex, classifier));
            server.createContext("/classify", ex -> classify(ex, classifier));
            server.start();
            return new Service(server, pool, classifier);
        } catch (IOException | RuntimeException e) {
            pool.shutdown();
            classifier.close();
            throw e;
        }
    }

    private static void health(HttpExchange ex, VideoClassifier c) throws IOException {
        ObjectNode body = JSON.createObjectNode();
        body.put("status", "ok");
        body.put("classes", c.card().numClasses());
        body.put("requests", c.stats().requests());
        body.put("meanBatch", c.stats().meanBatch());
        send(ex, 200, body);
    }

    private static void classify(HttpExchange ex, VideoClassifier c) throws IOException {
        if (!ex.getRequestMethod().equals("POST")) {
            send(ex, 405, error("use POST with the video file as the body"));
            return;
        }
        String name = query(ex.getRequestURI(), "name", "upload");
        byte[] video;
        try (InputStream in = ex.getRequestBody()) {
            video = in.readNBytes(MAX_BODY + 1);
        }
        if (video.length > MAX_BODY) {
            send(ex, 413, error(name + ": larger than " + MAX_BODY + " bytes"));
            return;
        }
        try {
            List<Prediction> ps = c.classify(video, name);
            ObjectNode body = JSON.createObjectNode();
            body.put("input", name);
            ArrayNode arr = body.putArray("predictions");
            for (Prediction p : ps) {
                arr.addObject().put("label", p.label()).put("index", p.index()).put("probability", p.probability());
            }
            send(ex, 200, body);
        } catch (ClassificationException e) {
            send(ex, 400, error(e.getMessage()));
        } catch (RejectedExecutionException | IllegalStateException e) {
            send(ex, 503, error(e.getMessage()));
        }
    }

    private static String query(URI uri, String key, String fallback) {
        String q = uri.getRawQuery();
        if (q != null) {
            for (String kv : q.split("&")) {
                int eq = kv.indexOf('=');
                if (eq > 0 && kv.substring(0, eq).equals(key)) {
                    return URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                }
            }
        }
        return fallback;
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    private static void send(HttpExchange ex, int status, ObjectNode body) throws IOException {
        byte[] b = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
