package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The reliability keys: run.onNonFinite, run.maxNonFiniteSkips, data.maxSkippedFraction (defaults, parsing, errors). */
class ReliabilityKeysTest {
    @Test
    void defaultsParsingAndErrorsNameTheKey() {
        for (TrainConfig c : List.of(TrainConfig.reference(), TrainConfig.embeddedDemo())) {
            assertEquals(NonFinitePolicy.STOP, c.run().onNonFinite());
            assertEquals(5, c.run().maxNonFiniteSkips());
            assertEquals(0.1, c.data().maxSkippedFraction());
        }
        TrainConfig c = TrainConfig.embeddedDemo().withOverrides(List.of("run.onNonFinite=skip", "run.maxNonFiniteSkips=2",
                "data.maxSkippedFraction=0.25"));
        assertEquals(NonFinitePolicy.SKIP, c.run().onNonFinite());
        assertEquals(2, c.run().maxNonFiniteSkips());
        assertEquals(0.25, c.data().maxSkippedFraction());
        TrainConfig round = TrainConfig.parse(TrainConfig.reference(), c.toJson(), List.of());
        assertEquals(c, round);
        assertEquals("run.onNonFinite: must be one of [stop, skip], got \"halt\"", assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.embeddedDemo().withOverrides(List.of("run.onNonFinite=halt"))).getMessage());
        assertEquals("run.maxNonFiniteSkips: must be >= 0, got -1", assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.embeddedDemo().withOverrides(List.of("run.maxNonFiniteSkips=-1"))).getMessage());
        assertEquals("data.maxSkippedFraction: must be in [0, 1], got 1.5", assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.embeddedDemo().withOverrides(List.of("data.maxSkippedFraction=1.5"))).getMessage());
    }
}
