package org.dualdistill.examples.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.dualdistill.export.StudentExport;
import org.dualdistill.model.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example end to end with tiny settings: 4 classes x 4 videos of 32x32, 2 epochs. */
class LibraryDistillExampleTest {
    @Test
    void distillsExportsAndClassifies(@TempDir Path dir) throws Exception {
        LibraryDistillExample.Result r = LibraryDistillExample.runExample(new String[] {"--work", dir.toString(), "--epochs", "2",
                "--videos-per-class", "4"});
        assertEquals(2, r.epochs().size());
        assertTrue(Double.isFinite(r.epochs().get(1).meanLoss()));
        assertTrue(r.eval().samples() > 0);
        assertTrue(Files.isRegularFile(r.exportDir().resolve(StudentExport.WEIGHTS)));
        assertTrue(SafeTensors.header(r.exportDir().resolve(StudentExport.WEIGHTS)).stream().allMatch(e -> e.name().startsWith("blocks.")),
                "only the student's tensors are exported");
        assertEquals(r.eval().top1(), StudentExport.readCard(r.exportDir().resolve(StudentExport.CARD)).metrics().get("top1"));
        assertEquals(3, r.prediction().size());
    }
}
