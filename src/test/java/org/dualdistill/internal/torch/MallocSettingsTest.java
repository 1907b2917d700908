package org.dualdistill.internal.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The launchers' glibc settings (src/main/sh/malloc-env.sh, run by bash as the launchers run it) and
 * {@link MallocSettings}'s reading of an environment agree: what the script exports is read as "reused", glibc's
 * defaults and half-set environments are not, and the script leaves a user's own choice alone.
 */
class MallocSettingsTest {
    private static final Path SCRIPT = Path.of("src/main/sh/malloc-env.sh");

    @Test
    void readsTheSettingsThatMatter() {
        assertTrue(MallocSettings.reused(MallocSettings.describe(Map.of("MALLOC_ARENA_MAX", "1", "MALLOC_MMAP_MAX_", "0"), "Linux")));
        assertTrue(MallocSettings.reused(MallocSettings.describe(
                Map.of("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1:glibc.malloc.mmap_max=0:glibc.malloc.arena_max=1"), "Linux")));
        String defaults = MallocSettings.describe(Map.of(), "Linux");
        assertFalse(MallocSettings.reused(defaults));
        assertTrue(defaults.contains("zero-filled"), defaults);
        String half = MallocSettings.describe(Map.of("MALLOC_ARENA_MAX", "1"), "Linux");
        assertFalse(MallocSettings.reused(half));
        assertTrue(half.contains("only one of"), half);
        // arena_max=16 is not arena_max=1
        assertFalse(MallocSettings.reused(MallocSettings.describe(
                Map.of("GLIBC_TUNABLES", "glibc.malloc.arena_max=16:glibc.malloc.mmap_max=0"), "Linux")));
        assertTrue(MallocSettings.describe(Map.of("DUALDISTILL_MALLOC", "system"), "Linux").endsWith("(DUALDISTILL_MALLOC=system)"));
        assertTrue(MallocSettings.describe(Map.of(), "Mac OS X").startsWith("not glibc"));
    }

    @Test
    void theLaunchersScriptExportsWhatIsReadAsReused() throws IOException, InterruptedException {
        Map<String, String> exported = runScript(Map.of());
        assertEquals("1", exported.get("MALLOC_ARENA_MAX"));
        assertEquals("0", exported.get("MALLOC_MMAP_MAX_"));
        assertEquals("68719476736", exported.get("MALLOC_TRIM_THRESHOLD_"));
        assertTrue(MallocSettings.reused(MallocSettings.describe(exported, "Linux")), exported.toString());
        // the same four settings the hint names
        for (String kv : MallocSettings.SETTINGS.split(" ")) {
            String[] p = kv.split("=");
            assertEquals(p[1], exported.get(p[0]), kv);
        }
    }

    @Test
    void theScriptLeavesAUsersChoiceAlone() throws IOException, InterruptedException {
        Map<String, String> system = runScript(Map.of("DUALDISTILL_MALLOC", "system"));
        assertFalse(system.containsKey("MALLOC_ARENA_MAX"), system.toString());
        Map<String, String> own = runScript(Map.of("MALLOC_ARENA_MAX", "4"));
        assertEquals("4", own.get("MALLOC_ARENA_MAX"));
        assertFalse(own.containsKey("MALLOC_MMAP_MAX_"), own.toString());
        Map<String, String> tunables = runScript(Map.of("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"));
        assertFalse(tunables.containsKey("MALLOC_ARENA_MAX"), tunables.toString());
    }

    /** Sources the script in a bash with only PATH and the given variables; returns the MALLOC_* and GLIBC_* it ends with. */
    private static Map<String, String> runScript(Map<String, String> env) throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")) || Files.isExecutable(Path.of("/usr/bin/bash")), "no bash here");
        assumeTrue(System.getProperty("os.name", "").toLowerCase().contains("linux"), "the script only acts on Linux");
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "set -euo pipefail; source \"$1\"; env", "bash",
                SCRIPT.toAbsolutePath().toString());
        pb.environment().clear();
        pb.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        Map<String, String> vars = new java.util.TreeMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && (line.startsWith("MALLOC_") || line.startsWith("GLIBC_") || line.startsWith("DUALDISTILL_"))) {
                vars.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return vars;
    }
}
