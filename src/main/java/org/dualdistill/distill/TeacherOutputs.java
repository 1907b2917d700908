package org.dualdistill.distill;

import org.bytedeco.pytorch.Tensor;

/**
 * What the objective needs from one frozen teacher. All tensors are borrowed and treated as constants (detached):
 * no gradient ever flows into a teacher.
 *
 * @param logits    [B, C] pre-softmax logits (required)
 * @param features  last-stage map [B, C_k, T, H, W] (ViT tokens reshaped without cls) for SDD, or null
 * @param embedding [B, D_k] embedding (the ViT's cls token) for RKD, or null
 */
public record TeacherOutputs(Tensor logits, Tensor features, Tensor embedding) {
}
