/**
 * Test-time augmentation: a model's probabilities for an image averaged
 * over deterministic transforms of it. The transforms act on the model's
 * input as preprocessing already made it (a batch of [height, width,
 * channels]), so evaluation, `predict` and `loadModel` transform the same
 * tensor the same way, on any backend.
 *
 * The views of each set, every one including the image itself:
 * - `flip`: the image and its horizontal mirror (2 views);
 * - `crops`: the image, its four corner crops and its centre crop, each
 *   crop 90% of the height and width, resized back to the input size with
 *   bilinear interpolation (6 views);
 * - `flip` and `crops`: each of those 6 views and its mirror (12 views).
 */
import tf from '../tfjs.cjs';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import type { TestMetrics, TtaMetrics } from './metrics.js';

/** One deterministic transform of a batch of prepared images, by name. */
export interface TtaView {
  name: string;
  apply: (x: tf.Tensor4D) => tf.Tensor4D;
}

/** The fraction of the height and of the width each crop keeps. */
export const CROP_FRACTION = 0.9;

const margin = 1 - CROP_FRACTION;
/** Each crop's box as tf.image.cropAndResize takes it: [top, left, bottom, right], fractions of the image. */
const CROP_BOXES: Record<string, [number, number, number, number]> = {
  'crop-top-left': [0, 0, CROP_FRACTION, CROP_FRACTION],
  'crop-top-right': [0, margin, CROP_FRACTION, 1],
  'crop-bottom-left': [margin, 0, 1, CROP_FRACTION],
  'crop-bottom-right': [margin, margin, 1, 1],
  'crop-centre': [margin / 2, margin / 2, 1 - margin / 2, 1 - margin / 2],
};

const identity: TtaView = { name: 'identity', apply: (x) => x.clone() };

/** The same box cut out of every image of the batch and resized back to its size. */
function cropView(name: string, box: [number, number, number, number]): TtaView {
  return {
    name,
    apply: (x) =>
      tf.tidy(() => {
        const [count, height, width] = x.shape;
        const boxes = tf.tensor2d(
          Array.from({ length: count }, () => box),
          [count, 4],
        );
        const indexes = tf.range(0, count, 1, 'int32') as tf.Tensor1D;
        return tf.image.cropAndResize(x, boxes, indexes, [height, width], 'bilinear');
      }),
  };
}

const mirrored = (view: TtaView): TtaView => ({
  name: view.name === 'identity' ? 'mirror' : `mirror+${view.name}`,
  apply: (x) => tf.tidy(() => tf.image.flipLeftRight(view.apply(x))),
});

/** The views a set of transforms averages over (see the file's comment), the image itself first. */
export function ttaViews(transforms: readonly TtaTransform[]): TtaView[] {
  const base = transforms.includes('crops')
    ? [identity, ...Object.entries(CROP_BOXES).map(([name, box]) => cropView(name, box))]
    : [identity];
  return transforms.includes('flip') ? [...base, ...base.map(mirrored)] : base;
}

/**
 * The model's class probabilities for a batch of prepared images, averaged
 * over the views of `transforms`. `outputs` says whether the model ends in
 * softmax (probabilities) or is linear (logits): logits are turned into
 * probabilities per view, then averaged.
 */
export function ttaProbabilities(
  model: tf.LayersModel,
  x: tf.Tensor,
  transforms: readonly TtaTransform[],
  outputs: 'probabilities' | 'logits',
): tf.Tensor2D {
  if (x.rank !== 4) throw new Error('test-time augmentation transforms images; these inputs are not a batch of images');
  const views = ttaViews(transforms);
  let sum: tf.Tensor2D | undefined;
  for (const view of views) {
    // One view at a time, each in its own scope: only the running sum outlives a view's activations.
    const next = tf.tidy(() => {
      const y = model.apply(view.apply(x as tf.Tensor4D), { training: false }) as tf.Tensor2D;
      const p = outputs === 'logits' ? tf.softmax(y) : y;
      return (sum ? tf.add(sum, p) : p.clone()) as tf.Tensor2D;
    });
    sum?.dispose();
    sum = next;
  }
  const mean = tf.div(sum!, views.length) as tf.Tensor2D;
  sum!.dispose();
  return mean;
}

/** A split's metrics, measured with test-time augmentation, as summary.json's `test.tta` keeps them. */
export function asTtaMetrics(metrics: TestMetrics, transforms: readonly TtaTransform[]): TtaMetrics {
  const { worst: _worst, curves: _curves, tta: _tta, ...kept } = metrics;
  return { ...kept, transforms: [...transforms], views: ttaViews(transforms).map((v) => v.name) };
}
