package org.dualdistill.model;

import org.bytedeco.pytorch.Tensor;

/**
 * What one forward pass of a {@link VideoModel} gives, without hooks: the pre-softmax logits, the pre-classifier
 * embedding and the last-stage feature map (the taps distillation uses). The tensors live in the caller's
 * {@code PointerScope}; in training mode they are connected to the model's autograd graph.
 *
 * @param logits    [B, num_classes] pre-softmax
 * @param embedding [B, D_emb] pre-classifier embedding (X3D: pooled 2048-d post-conv features; MViT: cls token)
 * @param features  last-stage map [B, C, T, H, W] (X3D res5; MViT last-stage tokens without cls, reshaped)
 */
public record ModelOutput(Tensor logits, Tensor embedding, Tensor features) {
}
