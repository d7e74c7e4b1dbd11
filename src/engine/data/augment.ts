import tf from '../tfjs.cjs';
import type { AugmentSpec } from '../../format/types.js';
import type { SeededRandom } from '../random.js';

/**
 * A batch augmenter: every random draw comes from `random`, so a seed
 * repeats the same changes in the same order. Works on pixels in 0–255
 * before normalisation; geometric changes are one projective transform per
 * image (tf.image.transform), filled by reflection like Keras' random layers.
 */
export function augmenter(spec: AugmentSpec, random: SeededRandom): (pixels: tf.Tensor4D) => tf.Tensor4D {
  return (pixels) => {
    const draws = drawAugmentation(spec, random, pixels.shape);
    return tf.tidy(() => changeColours(moveEach(pixels, draws, 'bilinear'), draws));
  };
}

/** One batch's random changes, drawn in a fixed order (transforms, flips, contrast, brightness) so a seed repeats them. */
export interface AugmentDraws {
  /** One row of tf.image.transform's matrix per image: each output pixel → where it is read from in the input. */
  transforms?: number[];
  /** 1: flip that image left–right. */
  flips?: number[];
  contrasts?: number[];
  /** Added to every pixel, 0–255 scale. */
  brightness?: number[];
}

/** The random changes of a batch of `shape` [n, height, width, …]. */
export function drawAugmentation(spec: AugmentSpec, random: SeededRandom, shape: readonly number[]): AugmentDraws {
  const [n, height, width] = shape as [number, number, number];
  const uniform = (limit: number): number => (random.next() * 2 - 1) * limit;
  const each = (draw: () => number): number[] => Array.from({ length: n }, draw);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const transform = (): number[] => {
    const angle = (uniform(spec.rotate) * Math.PI) / 180;
    const scale = 1 + uniform(spec.zoom);
    const tx = uniform(spec.translate) * width;
    const ty = uniform(spec.translate) * height;
    const a0 = Math.cos(angle) / scale;
    const a1 = -Math.sin(angle) / scale;
    const b0 = Math.sin(angle) / scale;
    const b1 = Math.cos(angle) / scale;
    return [a0, a1, cx - a0 * cx - a1 * cy - tx, b0, b1, cy - b0 * cx - b1 * cy - ty, 0, 0];
  };
  return {
    ...(spec.rotate > 0 || spec.zoom > 0 || spec.translate > 0
      ? { transforms: Array.from({ length: n }, transform).flat() }
      : {}),
    ...(spec.flipHorizontal ? { flips: each(() => (random.next() < 0.5 ? 1 : 0)) } : {}),
    ...(spec.contrast > 0 ? { contrasts: each(() => 1 + uniform(spec.contrast)) } : {}),
    ...(spec.brightness > 0 ? { brightness: each(() => uniform(spec.brightness) * 255) } : {}),
  };
}

/** The geometric changes (transform, flip), for images (bilinear) and for masks (nearest: a class is never blended into another). */
export function moveEach(x: tf.Tensor4D, draws: AugmentDraws, interpolation: 'bilinear' | 'nearest'): tf.Tensor4D {
  const n = x.shape[0];
  let moved = draws.transforms ? transformEach(x, draws.transforms, interpolation) : x;
  if (draws.flips) {
    const flip = tf.tensor4d(draws.flips, [n, 1, 1, 1]);
    moved = tf.add(tf.mul(tf.image.flipLeftRight(moved), flip), tf.mul(moved, tf.sub(1, flip)));
  }
  return moved;
}

/** The photometric changes (contrast, brightness), for images only, clipped to 0–255. */
export function changeColours(x: tf.Tensor4D, draws: AugmentDraws): tf.Tensor4D {
  const n = x.shape[0];
  let changed = x;
  if (draws.contrasts) {
    const mean = tf.mean(changed, [1, 2], true);
    changed = tf.add(tf.mul(tf.sub(changed, mean), tf.tensor4d(draws.contrasts, [n, 1, 1, 1])), mean);
  }
  if (draws.brightness) changed = tf.add(changed, tf.tensor4d(draws.brightness, [n, 1, 1, 1]));
  return tf.clipByValue(changed, 0, 255);
}

/**
 * tf.image.transform one image at a time: tfjs-backend-cpu 4.22's Transform
 * kernel returns after the first image of a batch and leaves the others at
 * the fill value (black images on cpu). Per image, every backend computes
 * the same values as a correct batched call (the same on wasm, bit for bit).
 * Filled by reflection, like Keras' random layers.
 */
function transformEach(images: tf.Tensor4D, rows: number[], interpolation: 'bilinear' | 'nearest'): tf.Tensor4D {
  const n = images.shape[0];
  const one = (image: tf.Tensor4D, i: number): tf.Tensor4D =>
    tf.image.transform(image, tf.tensor2d(rows.slice(i * 8, i * 8 + 8), [1, 8]), interpolation, 'reflect');
  return n === 1
    ? one(images, 0)
    : tf.concat(
        tf.split(images, n, 0).map((image, i) => one(image as tf.Tensor4D, i)),
        0,
      );
}
