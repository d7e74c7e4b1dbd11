import tf from '../tfjs.cjs';
import type { ExampleLoss } from '../../plan/types.js';

export interface PixelLossOptions {
  /** One weight per class, in class order; a pixel's loss is scaled by its true class's weight. */
  classWeights?: tf.Tensor1D;
  /** Pixels whose mask holds this value add nothing to the loss and are not counted in its mean. */
  ignoreIndex?: number;
}

/**
 * The counted pixels of a batch of masks ([n, h, w] or [n, h, w, 1], class
 * indexes) as one-hot rows [pixels, classes] (all zeros where ignored) and a
 * 0/1 weight per pixel. An ignored value may be a class index (0, to leave
 * the background out) or any other byte (255, VOC's object borders).
 */
function countedPixels(
  masks: tf.Tensor,
  classes: number,
  ignoreIndex: number | undefined,
): { oneHot: tf.Tensor2D; counted: tf.Tensor1D; safe: tf.Tensor1D } {
  const flat = tf.reshape(masks, [-1]).toInt() as tf.Tensor1D;
  if (ignoreIndex === undefined)
    return {
      oneHot: tf.oneHot(flat, classes).toFloat() as tf.Tensor2D,
      counted: tf.onesLike(flat).toFloat(),
      safe: flat,
    };
  const keep = tf.notEqual(flat, ignoreIndex);
  const safe = tf.where(keep, flat, tf.zerosLike(flat)) as tf.Tensor1D;
  const counted = keep.toFloat() as tf.Tensor1D;
  return {
    oneHot: tf.mul(tf.oneHot(safe, classes).toFloat(), tf.expandDims(counted, 1)) as tf.Tensor2D,
    counted,
    safe,
  };
}

/**
 * Per-pixel softmax cross-entropy of a batch, [n, h, w, classes] predictions
 * against integer masks, averaged over the counted pixels (all but those
 * equal to `ignoreIndex`; 0 when there are none). `kind` is the example
 * loss each pixel gets (the plan's per-pixel kind names it), after what the
 * last layer gives: probabilities (a softmax, clipped and renormalised as
 * Keras' categorical cross-entropy does) or logits. Class
 * weights scale each pixel's loss before the mean over counted pixels, as
 * Keras' sample weights do (PyTorch would divide by the sum of weights
 * instead; the two agree when no weights are given).
 */
export function pixelLoss(
  kind: ExampleLoss,
  masks: tf.Tensor,
  predictions: tf.Tensor4D,
  options: PixelLossOptions = {},
): tf.Scalar {
  return tf.tidy(() => {
    const classes = predictions.shape[3];
    const { oneHot, counted, safe } = countedPixels(masks, classes, options.ignoreIndex);
    const rows = tf.reshape(predictions, [-1, classes]);
    if (rows.shape[0] !== counted.shape[0])
      throw new Error(`${rows.shape[0]} predicted pixels against ${counted.shape[0]} mask pixels`);
    const perPixel =
      kind === 'categoricalCrossentropy'
        ? tf.metrics.categoricalCrossentropy(oneHot, rows)
        : tf.losses.softmaxCrossEntropy(oneHot, rows, undefined, 0, tf.Reduction.NONE);
    const weights = options.classWeights ? tf.mul(tf.gather(options.classWeights, safe), counted) : counted;
    return tf.div(tf.sum(tf.mul(perPixel, weights)), tf.maximum(tf.sum(counted), 1)) as tf.Scalar;
  });
}

/** Counted pixels whose most likely class is the true one, and counted pixels: a batch's pixel accuracy, as two sums. */
export function pixelCorrectCount(
  masks: tf.Tensor,
  predictions: tf.Tensor4D,
  ignoreIndex?: number,
): { correct: tf.Scalar; counted: tf.Scalar } {
  return tf.tidy(() => {
    const { counted, safe } = countedPixels(masks, predictions.shape[3], ignoreIndex);
    const predicted = tf.reshape(tf.argMax(predictions, -1), [-1]);
    const hits = tf.mul(tf.equal(predicted, safe).toFloat(), counted);
    return { correct: tf.sum(hits) as tf.Scalar, counted: tf.sum(counted) as tf.Scalar };
  });
}
