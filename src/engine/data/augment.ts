import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../../format/types.js';
import type { SeededRandom } from '../random.js';

/**
 * A batch augmenter: every random draw comes from `random`, so a seed
 * repeats the same changes in the same order. Works on pixels in 0–255
 * before normalisation; geometric changes are one projective transform per
 * image (tf.image.transform), filled by reflection like Keras' random layers.
 */
export function augmenter(spec: AugmentSpec, random: SeededRandom): (pixels: tf.Tensor4D) => tf.Tensor4D {
  const uniform = (limit: number): number => (random.next() * 2 - 1) * limit;
  return (pixels) =>
    tf.tidy(() => {
      const [n, height, width] = pixels.shape as [number, number, number, number];
      let x = pixels;
      if (spec.rotate > 0 || spec.zoom > 0 || spec.translate > 0) {
        const cx = (width - 1) / 2;
        const cy = (height - 1) / 2;
        const rows: number[] = [];
        for (let i = 0; i < n; i++) {
          const angle = (uniform(spec.rotate) * Math.PI) / 180;
          const scale = 1 + uniform(spec.zoom);
          const tx = uniform(spec.translate) * width;
          const ty = uniform(spec.translate) * height;
          // The transform maps each output pixel to where it is read from in the input.
          const a0 = Math.cos(angle) / scale;
          const a1 = -Math.sin(angle) / scale;
          const b0 = Math.sin(angle) / scale;
          const b1 = Math.cos(angle) / scale;
          rows.push(a0, a1, cx - a0 * cx - a1 * cy - tx, b0, b1, cy - b0 * cx - b1 * cy - ty, 0, 0);
        }
        x = tf.image.transform(x, tf.tensor2d(rows, [n, 8]), 'bilinear', 'reflect');
      }
      if (spec.flipHorizontal) {
        const flags = Array.from({ length: n }, () => (random.next() < 0.5 ? 1 : 0));
        const mask = tf.tensor4d(flags, [n, 1, 1, 1]);
        x = tf.add(tf.mul(tf.image.flipLeftRight(x), mask), tf.mul(x, tf.sub(1, mask)));
      }
      if (spec.contrast > 0) {
        const factors = tf.tensor4d(
          Array.from({ length: n }, () => 1 + uniform(spec.contrast)),
          [n, 1, 1, 1],
        );
        const mean = tf.mean(x, [1, 2], true);
        x = tf.add(tf.mul(tf.sub(x, mean), factors), mean);
      }
      if (spec.brightness > 0) {
        x = tf.add(
          x,
          tf.tensor4d(
            Array.from({ length: n }, () => uniform(spec.brightness) * 255),
            [n, 1, 1, 1],
          ),
        );
      }
      return tf.clipByValue(x, 0, 255) as tf.Tensor4D;
    });
}
