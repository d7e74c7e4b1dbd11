import type * as tf from '@tensorflow/tfjs';

/** Which of a model's layers learn: every one, none, or the ones named. */
export type TrainableLayers = 'all' | 'none' | ReadonlySet<string>;

/**
 * Makes exactly `which` of `model`'s layers trainable and freezes every
 * other one. The only writer of `layer.trainable`: what learns is decided
 * by one rule in one place, so a stage cannot leave a layer trainable
 * that an earlier step froze, or the reverse.
 */
export function setTrainableLayers(model: tf.LayersModel, which: TrainableLayers): void {
  for (const layer of model.layers) layer.trainable = which === 'all' || (which !== 'none' && which.has(layer.name));
}
