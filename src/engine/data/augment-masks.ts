import tf from '../tfjs.cjs';
import type { AugmentSpec } from '../../format/types.js';
import type { SeededRandom } from '../random.js';
import { changeColours, drawAugmentation, moveEach } from './augment.js';

/** Training images and their masks after one random change. */
export interface AugmentedPair {
  /** [n, h, w, channels], float 0–255. */
  pixels: tf.Tensor4D;
  /** [n, h, w], int32 class indexes. */
  masks: tf.Tensor3D;
}

/**
 * Augments images and their masks together: one projective transform and
 * one flip per image, applied to the image (bilinear) and to its mask
 * (nearest neighbour, so a class index is never blended into another);
 * contrast and brightness change the image only. The draws are the ones
 * `augmenter` (augment.ts) makes, in the same order from the same stream,
 * so a seed changes a segmentation image exactly as it would change a
 * classification image.
 *
 * Both are filled by reflection where the transform reads outside the
 * picture: the image as Keras' random layers (and augment.ts) fill it, and
 * the mask likewise, so every filled pixel is labelled with the class of the
 * pixel it mirrors — which is what the image shows there. A constant
 * background fill would label mirrored objects as background (wrong
 * supervision at every border); an ignoreIndex fill would be safe but
 * throws those pixels away, and there is none when no ignoreIndex is set.
 */
export function jointAugmenter(
  spec: AugmentSpec,
  random: SeededRandom,
): (pixels: tf.Tensor4D, masks: tf.Tensor) => AugmentedPair {
  return (pixels, masks) => {
    const [n, height, width] = pixels.shape as [number, number, number, number];
    // The same draws as augmenter's, from the same stream in the same order.
    const draws = drawAugmentation(spec, random, pixels.shape);
    return tf.tidy(() => {
      const m = tf.reshape(masks, [n, height, width, 1]).toFloat() as tf.Tensor4D;
      return {
        pixels: changeColours(moveEach(pixels, draws, 'bilinear'), draws),
        masks: tf.reshape(tf.round(moveEach(m, draws, 'nearest')), [n, height, width]).toInt() as tf.Tensor3D,
      };
    });
  };
}
