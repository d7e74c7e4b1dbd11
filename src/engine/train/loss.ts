import tf from '../tfjs.cjs';
import { assertNever } from '../../format/dataset-formats/input.js';
import { isPixelLoss, type ExampleLoss, type LossKind, type PixelLoss } from '../../plan/types.js';
import { chunk, prefetched, range, type BatchSource } from '../data/batches.js';
import { PixelConfusion, segmentationScores } from '../evaluate/segmentation-metrics.js';
import { pixelCorrectCount, pixelLoss } from './pixel-loss.js';

/**
 * Mean loss over a batch, as the plan's loss kind says: per example, from
 * probabilities (softmax head) or logits (linear head), or the same at
 * every counted pixel of a mask (pixel-loss.ts). With class weights each
 * example's (pixel's) loss is scaled by its class's weight before the mean,
 * as Keras' class_weight does. Label smoothing ε trains examples towards
 * (1 − ε)·one-hot + ε/classes. Example weights wᵢ (dataset.source) are
 * Keras' sample_weight: each multiplies its example's loss (already scaled
 * by its class weight) and the mean stays over the batch's n examples,
 * Σ wᵢ·lᵢ / n. Not Σ wᵢ·lᵢ / Σ wᵢ: in a batch of source examples only, all
 * of one weight, that weight would cancel and do nothing.
 */
export function batchLoss(
  kind: LossKind,
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  options: { classWeights?: tf.Tensor1D; labelSmoothing?: number; exampleWeights?: tf.Tensor1D } = {},
): tf.Scalar {
  switch (kind) {
    case 'categoricalCrossentropy':
    case 'softmaxCrossEntropyFromLogits':
      return exampleLoss(kind, yTrue, yPred, options);
    case 'perPixelCategoricalCrossentropy':
    case 'perPixelSoftmaxCrossEntropyFromLogits':
      return pixelLoss(AT_EACH_PIXEL[kind], yTrue, yPred as tf.Tensor4D, {
        ...(options.classWeights ? { classWeights: options.classWeights } : {}),
        ignoreIndex: IGNORED,
      });
    default:
      return assertNever(kind);
  }
}

/** The example loss each pixel gets under a per-pixel kind. */
const AT_EACH_PIXEL: { readonly [K in PixelLoss]: ExampleLoss } = {
  perPixelCategoricalCrossentropy: 'categoricalCrossentropy',
  perPixelSoftmaxCrossEntropyFromLogits: 'softmaxCrossEntropyFromLogits',
};

function exampleLoss(
  kind: ExampleLoss,
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  {
    classWeights,
    labelSmoothing = 0,
    exampleWeights,
  }: { classWeights?: tf.Tensor1D; labelSmoothing?: number; exampleWeights?: tf.Tensor1D },
): tf.Scalar {
  const classes = yTrue.shape[yTrue.shape.length - 1]!;
  const target = labelSmoothing > 0 ? tf.add(tf.mul(yTrue, 1 - labelSmoothing), labelSmoothing / classes) : yTrue;
  const perExample =
    kind === 'categoricalCrossentropy'
      ? tf.metrics.categoricalCrossentropy(target, yPred)
      : tf.losses.softmaxCrossEntropy(target, yPred, undefined, 0, tf.Reduction.NONE);
  const weighed = classWeights ? tf.mul(perExample, tf.sum(tf.mul(yTrue, classWeights), -1)) : perExample;
  return tf.mean(exampleWeights ? tf.mul(weighed, exampleWeights) : weighed);
}

/**
 * Predictions right, and predictions counted, in a batch: examples, or the
 * pixels a mask counts (all but IGNORED). Summed over a split, their ratio is
 * the accuracy, or the pixel accuracy, of the whole split, however many
 * counted pixels each batch holds.
 */
export function correctCount(
  kind: LossKind,
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
): { correct: tf.Scalar; counted: tf.Scalar } {
  switch (kind) {
    case 'categoricalCrossentropy':
    case 'softmaxCrossEntropyFromLogits':
      return { correct: tf.scalar(sameArgMax(yTrue, yPred)), counted: tf.scalar(yTrue.shape[0]!) };
    case 'perPixelCategoricalCrossentropy':
    case 'perPixelSoftmaxCrossEntropyFromLogits':
      return pixelCorrectCount(yTrue, yPred as tf.Tensor4D, IGNORED);
    default:
      return assertNever(kind);
  }
}

/**
 * Rows of [n, classes] whose largest entries sit at the same index in both,
 * counted on the host from one readback of each: tf.argMax, tf.equal,
 * tf.cast and tf.sum are five kernel calls per batch (and tape records
 * inside a training step), which cost more than the 32×10 numbers they
 * compare. Ties go to the first index, as every backend's ArgMax breaks them.
 */
function sameArgMax(yTrue: tf.Tensor, yPred: tf.Tensor): number {
  const classes = yTrue.shape[yTrue.shape.length - 1]!;
  const [truth, pred] = [yTrue.dataSync(), yPred.dataSync()];
  let same = 0;
  for (let row = 0; row < truth.length; row += classes)
    if (firstMax(truth, row, classes) === firstMax(pred, row, classes)) same++;
  return same;
}

/** The index of the first largest of `count` values from `start`; a NaN is never larger, as in ArgMax's kernels. */
function firstMax(values: ArrayLike<number>, start: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (values[start + i]! > values[start + best]!) best = i;
  return best;
}

/** Loss and accuracy (pixel accuracy and mean IoU, for a per-pixel loss) of `model` in inference mode over a whole split. */
export async function evaluateSource(
  model: tf.LayersModel,
  source: BatchSource,
  batchSize: number,
  lossKind: LossKind,
): Promise<{ loss: number; accuracy: number; meanIoU?: number }> {
  let lossSum = 0;
  let correct = 0;
  let counted = 0;
  const confusion = isPixelLoss(lossKind) ? new PixelConfusion(model.outputs[0]!.shape[3]!, IGNORED) : undefined;
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), batchSize))) {
    const [l, c, n, predicted] = tf.tidy(() => {
      const pred = model.apply(x, { training: false }) as tf.Tensor;
      const right = correctCount(lossKind, y, pred);
      return [
        // Weighted by counted pixels for a per-pixel loss (a batch's mean over them), by examples otherwise.
        batchLoss(lossKind, y, pred)
          .mul(confusion ? right.counted : positions.length)
          .dataSync()[0]!,
        right.correct.dataSync()[0]!,
        right.counted.dataSync()[0]!,
        confusion ? tf.argMax(pred, -1).dataSync() : undefined,
      ] as const;
    });
    if (confusion && predicted) confusion.add(y.dataSync(), predicted);
    tf.dispose([x, y]);
    lossSum += l;
    correct += c;
    counted += n;
  }
  return {
    loss: lossSum / (confusion ? Math.max(counted, 1) : source.count),
    // No counted pixel (every one ignored) scores 0, as no example right would.
    accuracy: correct / Math.max(counted, 1),
    ...(confusion ? { meanIoU: segmentationScores(confusion).meanIoU } : {}),
  };
}

/**
 * Segmentation targets: masks of class indexes [n, h, w] (int32) beside
 * predictions [n, h, w, classes], with every pixel the mask ignores (its
 * `ignoreIndex`) set to IGNORED by the batch source.
 */
export const IGNORED = -1;
