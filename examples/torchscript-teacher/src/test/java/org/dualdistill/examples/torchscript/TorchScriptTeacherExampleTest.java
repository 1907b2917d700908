package org.dualdistill.examples.torchscript;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example with the scripted fixture teacher of the library's tests ({@code src/test/resources/fixtures/
 * teacher_tiny.pt}, written by {@code make_fixtures.py} with PyTorch: 5 classes, 4 x 32 x 32 clips), 1 epoch.
 */
class TorchScriptTeacherExampleTest {
    @Test
    void distillsFromAScriptedTeacher(@TempDir Path dir) throws Exception {
        Path teacher = Path.of(TorchScriptTeacherExampleTest.class.getResource("/fixtures/teacher_tiny.pt").toURI());
        TorchScriptTeacherExample.Result r = TorchScriptTeacherExample.runExample(new String[] {"--teacher", teacher.toString(),
                "--work", dir.toString(), "--epochs", "1"});
        assertEquals(5, r.teacherClasses());
        assertEquals(1, r.epochs().size());
        assertTrue(Double.isFinite(r.epochs().get(0).meanLoss()));
        assertTrue(r.eval().samples() > 0);
    }

    @Test
    void aMissingTeacherIsNamed(@TempDir Path dir) {
        IOException e = assertThrows(IOException.class, () -> TorchScriptTeacherExample.runExample(new String[] {"--teacher",
                dir.resolve("nope.pt").toString(), "--work", dir.toString()}));
        assertTrue(e.getMessage().contains("nope.pt"), e.getMessage());
    }
}
