import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../../plan/types.js';
import { chunk, prefetched, range, type BatchSource } from '../data/batches.js';
import { PixelConfusion, segmentationScores } from '../evaluate/segmentation-metrics.js';
import { pixelCorrectCount, pixelLoss } from './pixel-loss.js';

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
  if (isMaskBatch(yTrue, yPred))
    return pixelLoss(kind, yTrue, yPred as tf.Tensor4D, {
      ...(classWeights ? { classWeights } : {}),
      ignoreIndex: IGNORED,
    });
  const classes = yTrue.shape[yTrue.shape.length - 1]!;
  const target = labelSmoothing > 0 ? tf.add(tf.mul(yTrue, 1 - labelSmoothing), labelSmoothing / classes) : yTrue;
  const perExample =
    kind === 'categoricalCrossentropy'
      ? tf.metrics.categoricalCrossentropy(target, yPred)
      : tf.losses.softmaxCrossEntropy(target, yPred, undefined, 0, tf.Reduction.NONE);
  return classWeights ? tf.mean(tf.mul(perExample, tf.sum(tf.mul(yTrue, classWeights), -1))) : tf.mean(perExample);
}

/**
 * Examples predicted right. For masks, each image counts as the fraction of
 * its batch's counted pixels predicted right, so that correct / examples
 * is pixel accuracy (per batch, weighted by the batch's images).
 */
export function correctCount(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  if (isMaskBatch(yTrue, yPred))
    return tf.tidy(() => {
      const { correct, counted } = pixelCorrectCount(yTrue, yPred as tf.Tensor4D, IGNORED);
      return tf.mul(tf.div(correct, tf.maximum(counted, 1)), yTrue.shape[0]!) as tf.Scalar;
    });
  return tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), 'float32'));
}

/** Loss and accuracy of `model` in inference mode over a whole split. */
export async function evaluateSource(
  model: tf.LayersModel,
  source: BatchSource,
  batchSize: number,
  lossKind: Plan['loss'],
): Promise<{ loss: number; accuracy: number; meanIoU?: number }> {
  let lossSum = 0;
  let correct = 0;
  let confusion: PixelConfusion | undefined;
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), batchSize))) {
    const [l, c, predicted] = tf.tidy(() => {
      const pred = model.apply(x, { training: false }) as tf.Tensor;
      return [
        batchLoss(lossKind, y, pred).mul(positions.length).dataSync()[0]!,
        correctCount(y, pred).dataSync()[0]!,
        isMaskBatch(y, pred) ? tf.argMax(pred, -1).dataSync() : undefined,
      ] as const;
    });
    if (predicted) {
      confusion ??= new PixelConfusion(model.outputs[0]!.shape[3]!, IGNORED);
      confusion.add(y.dataSync(), predicted);
    }
    tf.dispose([x, y]);
    lossSum += l;
    correct += c;
  }
  const accuracy = correct / source.count;
  return {
    loss: lossSum / source.count,
    accuracy,
    ...(confusion ? { meanIoU: segmentationScores(confusion).meanIoU } : {}),
  };
}

/**
 * Segmentation targets: masks of class indexes [n, h, w] (int32) beside
 * predictions [n, h, w, classes], with every pixel the mask ignores (its
 * `ignoreIndex`) set to IGNORED by the batch source.
 */
export const IGNORED = -1;
const isMaskBatch = (yTrue: tf.Tensor, yPred: tf.Tensor): boolean => yTrue.rank === 3 && yPred.rank === 4;
