package org.dualdistill.cli;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar with rate and ETA over a long phase (teacher epochs, the ablation's student runs), drawn by
 * {@code me.tongfei:progressbar} on stderr when the JVM has a terminal; otherwise (a log file, a pipe, a test) plain
 * lines, one per step but at most about 20 per phase: {@code label: k/n, rate, ETA, message}. Not thread-safe.
 */
final class Progress implements AutoCloseable {
    private final String label;
    private final long total;
    private final String unit;
    private final ProgressBar bar; // null = plain lines
    private final PrintStream out = System.err;
    private final long t0 = System.nanoTime();
    private long done;

    private Progress(String label, long total, String unit, ProgressBar bar) {
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.bar = bar;
    }

    /**
     * @param label what is being done
     * @param total steps of the phase
     * @param unit  name of one step (e.g. {@code epoch})
     * @return a bar on a terminal, plain lines otherwise; caller must close
     */
    static Progress of(String label, long total, String unit) {
        java.io.Console c = System.console();
        boolean terminal = c != null && c.isTerminal() && System.getenv("DUALDISTILL_PLAIN_PROGRESS") == null;
        ProgressBar bar = !terminal ? null : new ProgressBarBuilder().setTaskName(label).setInitialMax(total)
                .setUnit(" " + unit, 1).showSpeed().setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(500).build();
        return new Progress(label, total, unit, bar);
    }

    /** One step done; {@code message} describes it (shown beside the bar, or on the plain line). */
    void step(String message) {
        done++;
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(" " + message);
            return;
        }
        if (done != total && done % Math.max(1, total / 20) != 0) {
            return; // plain lines: at most about 20 per phase
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double rate = done / Math.max(secs, 1e-9);
        long eta = Math.round((total - done) / Math.max(rate, 1e-9));
        out.printf(Locale.ROOT, "%s: %d/%d %s, %.2f %s/min, ETA %s | %s%n", label, done, total, unit + (total == 1 ? "" : "s"),
                rate * 60, unit, format(Duration.ofSeconds(eta)), message);
    }

    private static String format(Duration d) {
        long s = d.getSeconds();
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
