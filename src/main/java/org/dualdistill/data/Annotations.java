package org.dualdistill.data;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Parsing and bookkeeping shared by the annotation readers: exact times, missing-file accounting. */
final class Annotations {
    private static final System.Logger LOG = System.getLogger("org.dualdistill.data");
    private static final BigDecimal MICROS = BigDecimal.valueOf(1_000_000);

    private Annotations() {
    }

    /** @return decimal seconds ({@code "12"}, {@code "3.25"}) as microseconds, rounded half up; error naming file:line */
    static long seconds(String v, Path file, long line, String what) throws AnnotationException {
        try {
            BigDecimal s = new BigDecimal(v.strip());
            if (s.signum() >= 0) {
                return s.multiply(MICROS).setScale(0, RoundingMode.HALF_UP).longValueExact();
            }
        } catch (NumberFormatException | ArithmeticException e) {
            // reported below
        }
        throw new AnnotationException(file, line, what + " must be a non-negative number of seconds, got '" + v + "'");
    }

    /**
     * @return an EPIC-KITCHENS timestamp {@code HH:MM:SS.ff} (also {@code MM:SS.ff} and {@code SS.ff}) as microseconds
     */
    static long timestamp(String v, Path file, long line, String what) throws AnnotationException {
        String[] parts = v.strip().split(":", -1);
        try {
            if (parts.length >= 1 && parts.length <= 3) {
                BigDecimal total = BigDecimal.ZERO;
                for (int i = 0; i < parts.length; i++) {
                    BigDecimal p = new BigDecimal(parts[i]);
                    boolean last = i == parts.length - 1;
                    if (p.signum() < 0 || (!last && (p.scale() > 0 || parts[i].contains("."))) || (i > 0 && p.compareTo(BigDecimal.valueOf(60)) >= 0)) {
                        throw new NumberFormatException();
                    }
                    total = total.multiply(BigDecimal.valueOf(60)).add(p);
                }
                return total.multiply(MICROS).setScale(0, RoundingMode.HALF_UP).longValueExact();
            }
        } catch (NumberFormatException | ArithmeticException e) {
            // reported below
        }
        throw new AnnotationException(file, line, what + " must be a timestamp HH:MM:SS.fff, got '" + v + "'");
    }

    /** Collects annotated files that do not exist; checks each distinct path once. */
    static final class MissingFiles {
        private final Map<Path, Boolean> exists = new HashMap<>();
        private final List<MissingVideo> missing = new ArrayList<>();
        private final Map<Path, Boolean> reported = new HashMap<>();

        /** @return whether the file exists; if not, records it (once per path) as listed at file:line */
        boolean check(Path video, Path annotationFile, long line) {
            boolean ok = exists.computeIfAbsent(video, Files::isRegularFile);
            if (!ok && reported.putIfAbsent(video, Boolean.TRUE) == null) {
                missing.add(new MissingVideo(video, annotationFile, line));
            }
            return ok;
        }

        List<MissingVideo> missing() {
            return missing;
        }

        /**
         * Ends loading: fails on missing videos if asked, else logs their count once.
         *
         * @param dataset name for the log line
         * @param fail    whether missing videos are an error
         * @param listed  how many examples the annotations listed
         */
        void finish(String dataset, boolean fail, int listed) throws AnnotationException {
            if (missing.isEmpty()) {
                return;
            }
            MissingVideo first = missing.get(0);
            String summary = missing.size() + " listed video file(s) not found, e.g. " + first.path();
            if (fail) {
                throw new AnnotationException(first.annotationFile(), first.line(), summary);
            }
            LOG.log(System.Logger.Level.WARNING, dataset + ": " + summary + " (" + first.annotationFile()
                    + (first.line() > 0 ? ":" + first.line() : "") + "); left out of the " + listed + " annotated examples");
        }
    }
}
