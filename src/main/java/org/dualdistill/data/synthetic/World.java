package org.dualdistill.data.synthetic;

import java.nio.file.Path;

/**
 * What {@link SyntheticWorld#generate} wrote. Immutable and thread-safe.
 *
 * @param root   the world folder
 * @param config the settings
 * @param source the large pretraining stage
 * @param target the small fine-tuning stage with train / validation / test
 */
public record World(Path root, WorldConfig config, WorldStage source, WorldStage target) {
}
