package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

import org.dualdistill.distill.TeacherCache;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The teacher-output cache changes cost, not results: with fixed views, a run with the cache (in memory, or on disk and
 * then reused by a second run) gives the same per-epoch losses as a run without it, and from the second epoch on every
 * teacher lookup is a hit.
 */
class TrainerCacheTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void data() throws Exception {
        TrainerTest.generate();
    }

    private static List<Trainer.EpochStats> run(TeacherCache cache) throws Exception {
        try (TrainerTest.Rig rig = new TrainerTest.Rig(9, 2);
             Trainer t = rig.trainer().progress(100, null).teacherCache(cache).build()) {
            return t.fit(2);
        }
    }

    private static void assertSameLosses(List<Trainer.EpochStats> a, List<Trainer.EpochStats> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            // equal up to LibTorch's batch-composition rounding (TeacherCache javadoc); here batches repeat, so exact
            assertEquals(a.get(i).meanLoss(), b.get(i).meanLoss(), 1e-6 * Math.abs(a.get(i).meanLoss()), "epoch " + i);
        }
    }

    @Test
    void cacheGivesTheSameLossesAndHitsFromTheSecondEpoch() throws Exception {
        List<Trainer.EpochStats> plain = run(null);
        int clips = (int) plain.get(0).clips();
        long batches = plain.get(0).steps();
        try (TeacherCache mem = TeacherCache.inMemory(64L << 20)) {
            assertSameLosses(plain, run(mem));
            // a batch stops looking up at its first miss and computes the whole batch
            assertEquals(2L * batches, mem.misses(), "epoch 1: every batch of both teachers computed once");
            assertEquals(2L * clips, mem.size(), "epoch 1: every sample of both teachers stored");
            assertEquals(2L * clips, mem.hits(), "epoch 2: every sample of both teachers from the cache");
        }
        try (TeacherCache disk = TeacherCache.onDisk(dir, 64L << 20)) {
            run(disk);
        }
        try (TeacherCache reused = TeacherCache.onDisk(dir, 64L << 20)) { // a later run with the same teachers
            assertSameLosses(plain, run(reused));
            assertEquals(0, reused.misses());
            assertEquals(2L * clips, reused.diskHits());
        }
    }
}
