package org.dualdistill.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The torchrun environment contract. */
class DistributedConfigTest {

    @Test
    void noWorldSizeMeansSingleProcess() {
        assertTrue(DistributedConfig.fromEnvironment(Map.of("RANK", "0")).isEmpty());
    }

    @Test
    void readsTheTorchrunVariablesWithDefaults() {
        DistributedConfig c = DistributedConfig.fromEnvironment(Map.of("WORLD_SIZE", "4", "RANK", "3")).orElseThrow();
        assertEquals(3, c.rank());
        assertEquals(4, c.worldSize());
        assertEquals(3, c.localRank());
        assertEquals("127.0.0.1", c.masterAddr());
        assertEquals(29500, c.masterPort());
        assertEquals("env://", c.initMethod());
        assertEquals(DistributedConfig.Backend.GLOO, c.backend());
        assertEquals(Duration.ofSeconds(300), c.timeout());
        assertNull(c.socketInterface());

        DistributedConfig d = DistributedConfig.fromEnvironment(Map.of("WORLD_SIZE", "2", "RANK", "0", "LOCAL_RANK", "0",
                "MASTER_ADDR", "10.0.0.1", "MASTER_PORT", "1234", "GLOO_SOCKET_IFNAME", "eth1", "DUALDISTILL_DIST_BACKEND", "NCCL",
                "DUALDISTILL_DIST_TIMEOUT", "7", "DUALDISTILL_INIT_METHOD", "file:///tmp/x")).orElseThrow();
        assertEquals("10.0.0.1", d.masterAddr());
        assertEquals(1234, d.masterPort());
        assertEquals("eth1", d.socketInterface());
        assertEquals(DistributedConfig.Backend.NCCL, d.backend());
        assertEquals(Duration.ofSeconds(7), d.timeout());
        assertEquals("file:///tmp/x", d.initMethod());
        assertTrue(d.isMain());
    }

    @Test
    void malformedVariablesAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> DistributedConfig.fromEnvironment(Map.of("WORLD_SIZE", "2"))).getMessage().contains("RANK is not set"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> DistributedConfig.fromEnvironment(Map.of("WORLD_SIZE", "2", "RANK", "2"))).getMessage().contains("RANK must be in [0, 2)"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> DistributedConfig.fromEnvironment(Map.of("WORLD_SIZE", "two", "RANK", "0"))).getMessage().contains("WORLD_SIZE must be an integer"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DistributedConfig.fromEnvironment(
                Map.of("WORLD_SIZE", "2", "RANK", "0", "MASTER_PORT", "70000"))).getMessage().contains("MASTER_PORT"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DistributedConfig.fromEnvironment(
                Map.of("WORLD_SIZE", "2", "RANK", "0", "DUALDISTILL_DIST_BACKEND", "mpi"))).getMessage().contains("gloo or nccl"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DistributedConfig.fromEnvironment(
                Map.of("WORLD_SIZE", "2", "RANK", "0", "DUALDISTILL_INIT_METHOD", "tcp://x:1"))).getMessage().contains("init method"));
    }
}
