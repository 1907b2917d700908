package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CosineScheduleTest {

    @Test
    void warmupThenCosine() {
        // peak 0.1, warmup from 0.01 over 10 steps, cosine to 0 over the remaining 100 of 110 steps
        CosineSchedule s = new CosineSchedule(0.1, 0.01, 0.0, 10, 110);
        assertEquals(0.01, s.lrAt(0), 1e-15, "warmup start");
        assertEquals(0.055, s.lrAt(5), 1e-15, "warmup middle");
        assertEquals(0.1, s.lrAt(10), 1e-15, "warmup end = peak");
        assertEquals(0.05, s.lrAt(60), 1e-15, "cosine middle");
        // last step 109: 0.05 * (1 + cos(0.99 pi)) = 0.05 * (1 - 0.99950656...) = 2.4671981713...e-5
        assertEquals(2.4671981713420017e-5, s.lrAt(109), 1e-17, "last step");
        assertEquals(0.0, s.lrAt(110), 0.0, "past the end");
    }

    @Test
    void fromConfigInSteps() {
        TrainConfig c = TrainConfig.reference().withOverrides(java.util.List.of("schedule.epochs=10",
                "schedule.warmupEpochs=2", "schedule.minLr=0.001"));
        CosineSchedule s = CosineSchedule.of(c.optimizer(), c.schedule(), 5);
        assertEquals(10, s.warmupSteps());
        assertEquals(50, s.totalSteps());
        assertEquals(0.1, s.lrAt(10), 1e-15);
        assertEquals(0.001 + 0.099 * 0.5, s.lrAt(30), 1e-15);
    }
}
