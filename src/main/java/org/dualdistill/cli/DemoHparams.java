package org.dualdistill.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The benchmark's student hyperparameters, chosen on the validation split by {@code demo --tune} ({@link DemoTuning}) and
 * read by the default job: config override keys ({@link #KEYS}) with values, plus one line saying how they were chosen.
 * The committed copy is the resource {@value #RESOURCE}; {@code demo --hparams FILE} reads another.
 *
 * <p>File format: Java properties (UTF-8), the keys of {@link #KEYS} and {@code provenance}. Immutable.
 *
 * @param values     key -&gt; value, in {@link #KEYS} order
 * @param provenance how they were chosen (one line)
 * @param source     where they were read from
 */
record DemoHparams(Map<String, String> values, String provenance, String source) {
    /** the committed values, on the class path */
    static final String RESOURCE = "/org/dualdistill/cli/demo-hparams.properties";
    /** the tuned keys (TrainConfig override keys), in report order */
    static final List<String> KEYS = List.of("optimizer.lr", "objective.temperature", "objective.alphaKd",
            "objective.sddWeight", "objective.rkdWeight");

    /** Copies. */
    DemoHparams {
        values = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** @return the values as {@code key=value} overrides */
    List<String> overrides() {
        List<String> out = new ArrayList<>();
        values.forEach((k, v) -> out.add(k + "=" + v));
        return out;
    }

    /**
     * @param file a properties file, or null for the committed resource
     * @return the values
     * @throws IOException if the file cannot be read, or {@link IllegalArgumentException} naming it and the key when a
     *                     key is missing, unknown or not a finite number
     */
    static DemoHparams load(Path file) throws IOException {
        String text;
        String source;
        if (file == null) {
            try (InputStream in = DemoHparams.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IOException("resource " + RESOURCE + " is missing from the class path");
                }
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            source = "resource " + RESOURCE;
        } else {
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                throw new IOException(file.toAbsolutePath() + ": hyperparameter file not found");
            }
            source = file.toAbsolutePath().toString();
        }
        return parse(text, source);
    }

    static DemoHparams parse(String text, String source) throws IOException {
        Properties p = new Properties();
        try (Reader r = new StringReader(text)) {
            p.load(r);
        }
        Map<String, String> v = new LinkedHashMap<>();
        for (String k : KEYS) {
            String s = p.getProperty(k);
            if (s == null) {
                throw new IllegalArgumentException(source + ": missing key " + k);
            }
            double d;
            try {
                d = Double.parseDouble(s.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(source + ": " + k + " must be a number, got '" + s + "'");
            }
            if (!Double.isFinite(d) || d < 0) {
                throw new IllegalArgumentException(source + ": " + k + " must be finite and >= 0, got " + s);
            }
            v.put(k, s.strip());
        }
        for (String k : p.stringPropertyNames()) {
            if (!KEYS.contains(k) && !k.equals("provenance")) {
                throw new IllegalArgumentException(source + ": unknown key " + k + " (keys are " + KEYS + " and provenance)");
            }
        }
        return new DemoHparams(v, p.getProperty("provenance", "(no provenance given)"), source);
    }

    /**
     * Writes the values as a properties file with comment lines first (e.g. the sweep).
     *
     * @param file     the file
     * @param comments lines written as {@code # ...} before the values
     * @throws IOException on write failure
     */
    void write(Path file, List<String> comments) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String c : comments) {
            b.append("# ").append(c).append('\n');
        }
        b.append("provenance=").append(provenance.replace("\n", " ")).append('\n');
        values.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Files.writeString(file, b, StandardCharsets.UTF_8);
    }
}
