import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../../plan/types.js';
import { chunk, prefetched, range, type BatchSource } from '../data/batches.js';

/**
 * Mean loss over a batch, from probabilities (softmax head) or logits
 * (linear head). With class weights each example's loss is scaled by its
 * class's weight before the mean, as Keras' class_weight does. Label
 * smoothing ε trains towards (1 − ε)·one-hot + ε/classes.
 */
export function batchLoss(
  kind: Plan['loss'],
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  options: { classWeights?: tf.Tensor1D; labelSmoothing?: number } = {},
): tf.Scalar {
  const { classWeights, labelSmoothing = 0 } = options;
  const classes = yTrue.shape[yTrue.shape.length - 1]!;
  const target = labelSmoothing > 0 ? tf.add(tf.mul(yTrue, 1 - labelSmoothing), labelSmoothing / classes) : yTrue;
  const perExample =
    kind === 'categoricalCrossentropy'
      ? tf.metrics.categoricalCrossentropy(target, yPred)
      : tf.losses.softmaxCrossEntropy(target, yPred, undefined, 0, tf.Reduction.NONE);
  return classWeights ? tf.mean(tf.mul(perExample, tf.sum(tf.mul(yTrue, classWeights), -1))) : tf.mean(perExample);
}

export function correctCount(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), 'float32'));
}

/** Loss and accuracy of `model` in inference mode over a whole split. */
export async function evaluateSource(
  model: tf.LayersModel,
  source: BatchSource,
  batchSize: number,
  lossKind: Plan['loss'],
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), batchSize))) {
    const [l, c] = tf.tidy(() => {
      const pred = model.apply(x, { training: false }) as tf.Tensor;
      return [batchLoss(lossKind, y, pred).mul(positions.length).dataSync()[0]!, correctCount(y, pred).dataSync()[0]!];
    });
    tf.dispose([x, y]);
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / source.count, accuracy: correct / source.count };
}
