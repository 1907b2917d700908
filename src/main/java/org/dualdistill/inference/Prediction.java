package org.dualdistill.inference;

/**
 * One ranked class of a classification.
 *
 * @param label       the class name from the model card
 * @param index       the class index (the model's output position)
 * @param probability softmax probability, averaged over the views when several are taken
 */
public record Prediction(String label, int index, double probability) {
}
