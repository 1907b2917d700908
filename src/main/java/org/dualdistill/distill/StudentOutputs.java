package org.dualdistill.distill;

import org.bytedeco.pytorch.Tensor;

/**
 * What the objective needs from one student forward pass. All tensors are borrowed.
 *
 * @param logits    [B, C] pre-softmax logits (required)
 * @param features  the student's last-stage map [B, C_s, T, H, W] for SDD and hint (null when both are off)
 * @param embedding the pre-classifier embedding [B, D_s] for RKD (null when RKD is off)
 */
public record StudentOutputs(Tensor logits, Tensor features, Tensor embedding) {
}
