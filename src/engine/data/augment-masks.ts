import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../../format/types.js';
import type { SeededRandom } from '../random.js';

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
  const uniform = (limit: number): number => (random.next() * 2 - 1) * limit;
  return (pixels, masks) => {
    const [n, height, width] = pixels.shape as [number, number, number, number];
    // Drawn outside tidy and in augment.ts' order: transforms, then flips, then contrast, then brightness.
    const transforms = spec.rotate > 0 || spec.zoom > 0 || spec.translate > 0 ? drawTransforms(n, height, width, spec, uniform) : undefined;
    const flips = spec.flipHorizontal ? Array.from({ length: n }, () => (random.next() < 0.5 ? 1 : 0)) : undefined;
    const contrasts = spec.contrast > 0 ? Array.from({ length: n }, () => 1 + uniform(spec.contrast)) : undefined;
    const brightness = spec.brightness > 0 ? Array.from({ length: n }, () => uniform(spec.brightness) * 255) : undefined;
    return tf.tidy(() => {
      let x = pixels;
      let m = tf.reshape(masks, [n, height, width, 1]).toFloat() as tf.Tensor4D;
      if (transforms) {
        x = transformEach(x, transforms, 'bilinear');
        m = transformEach(m, transforms, 'nearest');
      }
      if (flips) {
        const flip = tf.tensor4d(flips, [n, 1, 1, 1]);
        const flipped = (t: tf.Tensor4D): tf.Tensor4D =>
          tf.add(tf.mul(tf.image.flipLeftRight(t), flip), tf.mul(t, tf.sub(1, flip)));
        x = flipped(x);
        m = flipped(m);
      }
      if (contrasts) {
        const mean = tf.mean(x, [1, 2], true);
        x = tf.add(tf.mul(tf.sub(x, mean), tf.tensor4d(contrasts, [n, 1, 1, 1])), mean);
      }
      if (brightness) x = tf.add(x, tf.tensor4d(brightness, [n, 1, 1, 1]));
      return {
        pixels: tf.clipByValue(x, 0, 255) as tf.Tensor4D,
        masks: tf.reshape(tf.round(m), [n, height, width]).toInt() as tf.Tensor3D,
      };
    });
  };
}

/**
 * tf.image.transform one image at a time: tfjs-backend-cpu 4.22's Transform
 * kernel returns after the first image of a batch and leaves the others at
 * the fill value (black images, all-zero masks). Per image, every backend
 * computes the same values as a correct batched call.
 */
function transformEach(images: tf.Tensor4D, rows: number[], interpolation: 'bilinear' | 'nearest'): tf.Tensor4D {
  const n = images.shape[0];
  if (n === 1) return tf.image.transform(images, tf.tensor2d(rows, [1, 8]), interpolation, 'reflect');
  const each = tf.split(images, n, 0).map((image, i) =>
    tf.image.transform(image as tf.Tensor4D, tf.tensor2d(rows.slice(i * 8, i * 8 + 8), [1, 8]), interpolation, 'reflect'),
  );
  return tf.concat(each, 0);
}

/** One row per image of tf.image.transform's matrices: each output pixel → where it is read from in the input. */
function drawTransforms(
  n: number,
  height: number,
  width: number,
  spec: AugmentSpec,
  uniform: (limit: number) => number,
): number[] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    const angle = (uniform(spec.rotate) * Math.PI) / 180;
    const scale = 1 + uniform(spec.zoom);
    const tx = uniform(spec.translate) * width;
    const ty = uniform(spec.translate) * height;
    const a0 = Math.cos(angle) / scale;
    const a1 = -Math.sin(angle) / scale;
    const b0 = Math.sin(angle) / scale;
    const b1 = Math.cos(angle) / scale;
    rows.push(a0, a1, cx - a0 * cx - a1 * cy - tx, b0, b1, cy - b0 * cx - b1 * cy - ty, 0, 0);
  }
  return rows;
}
