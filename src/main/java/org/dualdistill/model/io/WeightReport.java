package org.dualdistill.model.io;

import java.util.List;

/**
 * What a load did, by name. Immutable.
 *
 * @param file          the file loaded
 * @param loaded        model names copied from the file
 * @param missing       model names the file did not provide (left as they were)
 * @param unexpected    file names the model has no tensor for (after the key map)
 * @param mismatched    model names whose file tensor had another shape, as {@code "name: file [..] vs model [..]"}
 *                      (not copied)
 * @param reinitialized model names re-initialized instead of loaded (the classifier, on fine-tuning init)
 */
public record WeightReport(String file, List<String> loaded, List<String> missing, List<String> unexpected,
                           List<String> mismatched, List<String> reinitialized) {
    public WeightReport {
        loaded = List.copyOf(loaded);
        missing = List.copyOf(missing);
        unexpected = List.copyOf(unexpected);
        mismatched = List.copyOf(mismatched);
        reinitialized = List.copyOf(reinitialized);
    }

    /** @return this report with the given re-initialized names */
    public WeightReport withReinitialized(List<String> names) {
        return new WeightReport(file, loaded, missing, unexpected, mismatched, names);
    }

    /** @return whether nothing was missing, unexpected or mismatched */
    public boolean clean() {
        return missing.isEmpty() && unexpected.isEmpty() && mismatched.isEmpty();
    }

    /** @return a few lines for a console: counts, then the names of every non-loaded tensor */
    public String summary() {
        StringBuilder b = new StringBuilder();
        b.append(file).append(": loaded ").append(loaded.size()).append(", missing ").append(missing.size())
                .append(", unexpected ").append(unexpected.size()).append(", shape-mismatched ").append(mismatched.size());
        if (!reinitialized.isEmpty()) {
            b.append(", re-initialized ").append(reinitialized.size());
        }
        line(b, "missing", missing);
        line(b, "unexpected", unexpected);
        line(b, "shape-mismatched", mismatched);
        line(b, "re-initialized", reinitialized);
        return b.toString();
    }

    private static void line(StringBuilder b, String what, List<String> names) {
        if (!names.isEmpty()) {
            b.append(System.lineSeparator()).append("  ").append(what).append(": ").append(String.join(", ", names));
        }
    }
}
