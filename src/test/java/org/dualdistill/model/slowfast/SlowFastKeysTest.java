package org.dualdistill.model.slowfast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The pytorchvideo and PySlowFast key maps over the whole R50 state_dict (parameters and BN buffers), against the
 * PySlowFast list {@code reference/slowfast_r50_k400_pyslowfast.tsv} that {@code native/dev/slowfast_ref.py lists}
 * derives from a module tree written after PySlowFast's SlowFast class.
 */
class SlowFastKeysTest {
    @Test
    void everyTensorMapsToADistinctPySlowFastNameOfTheSameShapeAndBack() throws Exception {
        Map<String, String> psf = new LinkedHashMap<>();
        for (String line : SlowFastTest.tsv("reference/slowfast_r50_k400_pyslowfast.tsv")) {
            String[] f = line.split("\t");
            psf.put(f[0], f.length > 1 ? f[1] : "");
        }
        assertEquals(662, psf.size());
        try (SlowFast m = SlowFast.r50(400)) {
            Map<String, String> ours = SlowFastTest.stateDict(m);
            Map<String, String> mapped = new HashMap<>();
            for (Map.Entry<String, String> e : ours.entrySet()) {
                String ptv = e.getKey();
                String p = SlowFastKeys.toPySlowFast(ptv);
                assertTrue(p != null, "no PySlowFast name for " + ptv);
                assertTrue(mapped.put(p, e.getValue()) == null, "two tensors map to " + p);
                assertEquals(ptv, SlowFastKeys.fromPySlowFast(p), "round trip of " + ptv);
                assertEquals(ptv, SlowFastKeys.fromPySlowFast("module." + p));
                assertEquals(ptv, SlowFastKeys.fromPytorchvideo(ptv), "pytorchvideo names are ours");
                assertEquals(ptv, SlowFastKeys.fromPytorchvideo("module." + ptv));
                assertEquals(ptv, SlowFastKeys.toPytorchvideo(ptv));
            }
            assertEquals(psf, mapped, "the mapped state_dict is PySlowFast's, names and shapes");
            for (String p : psf.keySet()) {
                String ptv = SlowFastKeys.fromPySlowFast(p);
                assertTrue(ptv != null && ours.containsKey(ptv), "PySlowFast " + p + " has no tensor here");
            }
        }
    }

    @Test
    void spotChecksAndForeignKeys() {
        assertEquals("s1.pathway1_stem.conv.weight", SlowFastKeys.toPySlowFast("blocks.0.multipathway_blocks.1.conv.weight"));
        assertEquals("s1.pathway0_stem.bn.running_var", SlowFastKeys.toPySlowFast("blocks.0.multipathway_blocks.0.norm.running_var"));
        assertEquals("s1_fuse.conv_f2s.weight", SlowFastKeys.toPySlowFast("blocks.0.multipathway_fusion.conv_fast_to_slow.weight"));
        assertEquals("s4_fuse.bn.bias", SlowFastKeys.toPySlowFast("blocks.3.multipathway_fusion.norm.bias"));
        assertEquals("s2.pathway0_res0.branch1.weight",
                SlowFastKeys.toPySlowFast("blocks.1.multipathway_blocks.0.res_blocks.0.branch1_conv.weight"));
        assertEquals("s5.pathway1_res2.branch2.c_bn.num_batches_tracked",
                SlowFastKeys.toPySlowFast("blocks.4.multipathway_blocks.1.res_blocks.2.branch2.norm_c.num_batches_tracked"));
        assertEquals("head.projection.weight", SlowFastKeys.toPySlowFast("blocks.6.proj.weight"));
        assertEquals("blocks.6.proj.bias", SlowFastKeys.fromPySlowFast("head.projection.bias"));
        // keys of other architectures or other SlowFast variants have no counterpart
        assertNull(SlowFastKeys.fromPySlowFast("s5_fuse.conv_f2s.weight"));
        assertNull(SlowFastKeys.fromPySlowFast("s2.pathway0_nonlocal0.conv_theta.weight"));
        assertNull(SlowFastKeys.fromPySlowFast("s1.pathway0_stem.conv_xy.weight"));
        assertNull(SlowFastKeys.toPySlowFast("blocks.4.multipathway_fusion.norm.weight"));
        assertNull(SlowFastKeys.toPySlowFast("blocks.5.pool.pre_conv.weight"));
        assertNull(SlowFastKeys.fromPytorchvideo("blocks.0.conv.conv_t.weight"));
        assertNull(SlowFastKeys.toPySlowFast("blocks.1.multipathway_blocks.0.res_blocks.0.branch2.conv_a.weight.extra"));
    }
}
